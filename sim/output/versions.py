"""The versions of Python and of the distributions a run depends on, as ``meta.json`` records them.

Looked up once per process (about 10 ms of metadata reads); ``opsim --version`` prints
some of the same.
"""

from __future__ import annotations

import platform
from functools import cache
from importlib import metadata

__all__ = ["NOT_INSTALLED", "RECORDED_DISTRIBUTIONS", "installed_versions"]

#: Distributions whose versions ``meta.json`` records.
RECORDED_DISTRIBUTIONS = ("opsim", "mesa", "numpy", "scipy", "pandas", "pyarrow", "hydra-core", "matplotlib")
#: The version written for a distribution that is not installed.
NOT_INSTALLED = "not installed"


@cache
def _lookup() -> tuple[tuple[str, str], ...]:
    out = [("python", platform.python_version())]
    for dist in RECORDED_DISTRIBUTIONS:
        try:
            out.append((dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            out.append((dist, NOT_INSTALLED))
    return tuple(out)


def installed_versions() -> dict[str, str]:
    """``{"python": "3.11.7", "opsim": "0.1.0", "mesa": …}``: Python's and each recorded distribution's (a new dict)."""
    return dict(_lookup())
