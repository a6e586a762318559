"""Flowy on Azure: the ``azure_blob`` store, the ``azureml`` executor, the ``azure`` stack."""
