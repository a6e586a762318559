"""Tracking: assets, experiments, reports, the model registry, the read API (``Client``) and
housekeeping of the recorded history. Reaches the engine only through hooks.
"""
