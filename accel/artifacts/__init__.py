"""Artifacts: what the gate works on and where it lives: data, models, the content-addressed
cache. The bottom layer: it imports nothing else of accel.
"""
