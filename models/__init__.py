"""anima.models"""
