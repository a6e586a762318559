"""The ``flowy`` command line. The entry point is :func:`flowy_cli.main.main`."""
