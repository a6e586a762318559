"""Flowy on AWS: the ``s3`` artifact store, the ``sagemaker`` executor and the ``aws`` stack."""
