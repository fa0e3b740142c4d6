"""anima.sim_bridge"""
