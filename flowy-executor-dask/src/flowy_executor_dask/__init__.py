"""Flowy's Dask executor (see :mod:`flowy_executor_dask.executor`)."""
