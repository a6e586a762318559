"""Flowy's web UI and HTTP API (``flowy ui``). The server is built by
:func:`flowy_ui.app.create_app`; nothing is imported here."""
