"""The ``flowy`` command line. The entry point is :func:`flowy_cli.main.main`."""

#: This distribution's version (a test checks it against the installed metadata).
__version__ = "0.1.0"
