"""``python -m sim``: same as the ``opsim`` command (:mod:`sim.app.start`)."""

from sim.app.start import opsim

if __name__ == "__main__":
    opsim()
