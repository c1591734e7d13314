"""Applications: the configuration, the commands, sweeps, calibration and the model checker.

==================  ===============================================================
module              what it runs
==================  ===============================================================
``config``          the run's schema, validation and Hydra composition
``model``           ``UserLifecycleModel``: the core model built from a config
``simulate``        ``simulate()``: a run with its baseline and economics reruns
``start``           every command's entry point: ``opsim``'s figure workers first, Ctrl-C, exit
``argv``            an ``opsim`` command line read before any config is
``cli``             ``opsim`` (a Hydra app; sweeps with ``-m``)
``sweep``           sweep job bookkeeping, resume and aggregation (the Hydra callback)
``resume``          the command line that resumes a sweep, trusting nothing in its folder
``memory``          a run's memory need, checked against what is free before it starts
``exits``           exit codes, and the one line a command prints for an error
``report_cli``      ``opsim-report``
``calibrate``       ``opsim-calibrate``: the simulator wired to the calibration algorithms
``checker``         ``check_model``: the verifier every preset and strategy passes
==================  ===============================================================

This is the top layer: nothing in ``sim`` imports it except the public facade
``sim/__init__.py`` and ``sim/__main__.py`` (``python -m sim``).
"""
