"""Flowy on Google Cloud: ``gcs`` artifact store, ``vertex`` executor, ``gcp`` stack."""
