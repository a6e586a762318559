"""Flowy's Ray executor (see :mod:`flowy_executor_ray.executor`)."""
