"""anima.ros_nodes"""
