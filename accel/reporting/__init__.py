"""Reporting: the comparison table (terminal and Markdown), the run JSON's schema (written and
read by the same dataclasses) and ``accel report`` (Markdown and plots).
"""
