"""Flowy storage without a server: SQL metadata store and local artifact store.

Kept empty on purpose: the entry point names :mod:`flowy_store_sqlite.plugin`,
which registers dotted paths, so discovering this plugin imports neither
SQLAlchemy nor fsspec.
"""

__version__ = "0.1.0"
