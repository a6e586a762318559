"""Flowy tracker plugin for MLflow; the tracker is :class:`flowy_mlflow.tracker.MlflowTracker`."""
