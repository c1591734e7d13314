"""opsim's Hydra config tree, importable as ``sim.conf`` (``hydra.searchpath=[pkg://sim.conf]``)."""
