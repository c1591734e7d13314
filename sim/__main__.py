"""``python -m sim``: same as the ``opsim`` command."""

from sim.cli import main

main()
