"""flowy-cache-redis: a ``redis`` cache index, so machines without a shared database share hits."""
