"""Safe materializers for Flowy (see :mod:`flowy_materializers.plugin`)."""
