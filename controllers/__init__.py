"""anima.controllers"""
