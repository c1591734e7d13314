"""``python -m sim``: same as the ``opsim`` command."""

from sim.app.cli import main

main()
