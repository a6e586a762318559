"""Flowy tracker plugin for Weights & Biases (see :mod:`flowy_wandb.tracker`)."""
