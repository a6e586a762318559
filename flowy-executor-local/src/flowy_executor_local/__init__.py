"""Flowy's local executor (see :mod:`flowy_executor_local.executor`)."""
