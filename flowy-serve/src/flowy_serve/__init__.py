"""Serving registered Flowy models: ``flowy model serve``, ``predict`` and ``package``."""
