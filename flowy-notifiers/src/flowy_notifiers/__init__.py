"""Flowy notifiers for alerts: ``webhook``, ``slack``, ``discord`` and ``email``."""
