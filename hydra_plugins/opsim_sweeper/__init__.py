"""Hydra sweeper plugin of opsim (found by Hydra's plugin discovery in the ``hydra_plugins`` namespace)."""
