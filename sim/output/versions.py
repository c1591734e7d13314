"""The versions of Python and of the distributions a run depends on, as ``meta.json`` records them.

Looked up once per process, from each distribution's metadata file (about 2 ms for all);
``opsim --version`` prints some of the same.
"""

from __future__ import annotations

import platform
import re
from functools import cache
from importlib import metadata

__all__ = ["NOT_INSTALLED", "RECORDED_DISTRIBUTIONS", "installed_versions"]

#: Distributions whose versions ``meta.json`` records.
RECORDED_DISTRIBUTIONS = ("opsim", "mesa", "numpy", "scipy", "pandas", "pyarrow", "hydra-core", "matplotlib")
#: The version written for a distribution that is not installed.
NOT_INSTALLED = "not installed"
#: The ``Version`` field among a core metadata file's header lines.
VERSION_FIELD = re.compile(r"^Version:[ \t]*(.*?)[ \t]*$", re.MULTILINE)


@cache
def _lookup() -> tuple[tuple[str, str], ...]:
    out = [("python", platform.python_version())]
    for dist in RECORDED_DISTRIBUTIONS:
        try:
            out.append((dist, _version(dist)))
        except metadata.PackageNotFoundError:
            out.append((dist, NOT_INSTALLED))
    return tuple(out)


def _version(name: str) -> str:
    """``importlib.metadata.version(name)``, read from the metadata file's header lines alone.

    ``metadata.version`` parses the whole file with the email parser, long description
    included: about 15 ms for the distributions recorded, against 2 ms for their header
    lines (one-off timings here). The header lines end at the first blank line (core
    metadata specification); a file without a ``Version`` field there is left to
    ``metadata`` itself.

    Raises:
        importlib.metadata.PackageNotFoundError: ``name`` is not installed.

    """
    dist = metadata.distribution(name)
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    found = VERSION_FIELD.search(text.split("\n\n", 1)[0])
    return found.group(1) if found else dist.version


def installed_versions() -> dict[str, str]:
    """``{"python": "3.11.7", "opsim": "0.1.0", "mesa": …}``: Python's and each recorded distribution's (a new dict)."""
    return dict(_lookup())
