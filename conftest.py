"""Loads the accel plugin for this repository."""

pytest_plugins = ["accel.plugin.hooks"]
