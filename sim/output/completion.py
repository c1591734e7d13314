"""The completion marker of a result folder: ``DONE.json``, written last.

A run (``opsim``, :meth:`sim.output.result.Result.save`) and every job of a sweep
write their result files atomically, then ``DONE.json``::

    {"config_hash": "<SHA-256 of the resolved config>",
     "code": "<SHA-256 of opsim's source and config files>",
     "files": {"summary.json": {"size": 3512, "sha256": "<hex>"}, ...},
     "seconds": 1.8}

A folder is **complete** when its marker exists, names the config hash expected
and every file it lists is there with exactly that size and SHA-256
(:func:`check_complete`). A folder killed before the marker, with a file deleted,
truncated or edited since, or with a marker of another config, is incomplete:
resume runs it again. Before a folder is (re)written its old marker is removed
first (:func:`clear_marker`), so a half-rewritten folder never looks finished.

``code`` is the fingerprint of the opsim code that computed the folder
(:func:`code_fingerprint`): opsim's version number does not change with every edit
of its code, its source files do. A sweep asks for it (``check_complete(..., code=...)``)
before it skips a finished job, so a job computed by other code (or by a version before
fingerprints, whose marker has none) runs again rather than mixing two codes' results in
one table; a report over an old folder asks for no fingerprint and reads it as it is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from sim.output.files import write_json

__all__ = [
    "CODE_KEY",
    "DONE",
    "OTHER_CODE",
    "check_complete",
    "clear_marker",
    "code_fingerprint",
    "config_hash",
    "file_record",
    "read_marker",
    "recorded_seed",
    "update_marker",
    "write_marker",
]

DONE = "DONE.json"
#: Config fields that change no result file (a progress bar, how many threads or processes step a run,
#: the kernels backend: the same bits either way), left out of the config hash.
NOT_IN_HASH = ("progress", "threads", "parallel", "kernels")
#: Bytes read at a time while hashing a file.
HASH_BLOCK_BYTES = 1 << 20
#: The key of ``DONE.json`` that holds the fingerprint of the code that computed the folder.
CODE_KEY = "code"
#: Files of the ``sim`` package (its ``conf`` folder included) whose content makes the code fingerprint:
#: the source, the config presets and the figures' style.
CODE_SUFFIXES = (".py", ".yaml", ".mplstyle")
#: Folders of the package left out of the fingerprint (compiled copies of the source).
NOT_CODE_DIRS = ("__pycache__",)
#: Why a complete folder is not a finished job of this opsim: :func:`check_complete`'s phrase.
OTHER_CODE = f"{DONE} is from another opsim code"


def config_hash(config: Any) -> str:
    """SHA-256 of a resolved, typed config (a dataclass): what a result depends on.

    Fields in :data:`NOT_IN_HASH` are left out: they change no result file.
    """
    fields = {k: v for k, v in dataclasses.asdict(config).items() if k not in NOT_IN_HASH}
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@cache
def code_fingerprint() -> str:
    """SHA-256 of the opsim code: each source, preset and style file of the ``sim`` package, by path and content.

    Computed once per process (some 115 files, a few milliseconds). The ``conf`` folder is
    followed where it is a link (a source checkout links ``sim/conf`` to ``conf/``), so a
    checkout and an installed wheel of the same code have the same fingerprint.
    """
    package = Path(__file__).resolve().parents[1]
    paths = []
    for folder, dirs, names in os.walk(package, followlinks=True):
        dirs[:] = [d for d in dirs if d not in NOT_CODE_DIRS]
        paths += [Path(folder, n) for n in names if n.endswith(CODE_SUFFIXES)]
    digest = hashlib.sha256()
    for relative, path in sorted((p.relative_to(package).as_posix(), p) for p in paths):
        digest.update(relative.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def file_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"size": bytes, "sha256": hex}`` of one file."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK_BYTES):
            digest.update(block)
            size += len(block)
    return {"size": size, "sha256": digest.hexdigest()}


def write_marker(folder: str | os.PathLike[str], names: Iterable[str], digest: str, **extra: Any) -> None:
    """Write ``DONE.json`` listing the size and SHA-256 of each named file of ``folder`` (call it last).

    The marker also records this opsim's :func:`code_fingerprint`.

    Args:
        folder: The result folder.
        names: The result files, relative to ``folder``.
        digest: The config hash of the run (:func:`config_hash`).
        **extra: More fields for the marker (e.g. ``seconds``).

    """
    folder = Path(folder)
    files = {name: file_record(folder / name) for name in sorted(set(names))}
    write_json(folder / DONE, {"config_hash": digest, CODE_KEY: code_fingerprint(), "files": files, **extra})


def update_marker(folder: str | os.PathLike[str], names: Iterable[str]) -> None:
    """Record the new size and SHA-256 of files rewritten in a complete folder (a rebuilt report)."""
    folder = Path(folder)
    marker = read_marker(folder)
    if marker is None or not isinstance(marker.get("files"), dict):
        return
    marker["files"].update({name: file_record(folder / name) for name in names})
    marker["files"] = dict(sorted(marker["files"].items()))
    write_json(folder / DONE, marker)


def clear_marker(folder: str | os.PathLike[str]) -> None:
    """Remove ``DONE.json``: the folder is being (re)written and is not complete until a new one is written."""
    (Path(folder) / DONE).unlink(missing_ok=True)


def read_marker(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The marker's content, or None where there is none or it cannot be read."""
    try:
        data = json.loads((Path(folder) / DONE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_complete(folder: str | os.PathLike[str], digest: str | None = None, *, code: str | None = None) -> str | None:
    """Why ``folder`` is not a complete result, or None if it is.

    Args:
        folder: The result folder.
        digest: The config hash the result must have been made with (None: any).
        code: The code fingerprint it must have been computed by (:func:`code_fingerprint`;
            None: any, a marker without one included).

    Returns:
        None for a complete folder; otherwise one phrase (``no DONE.json``,
        ``summary.json: size 120, DONE.json says 3512``, :data:`OTHER_CODE`, ...).

    """
    folder = Path(folder)
    marker = read_marker(folder)
    if marker is None:
        return f"no readable {DONE}"
    if digest is not None and marker.get("config_hash") != digest:
        return f"{DONE} is from another config"
    if code is not None and marker.get(CODE_KEY) != code:
        return OTHER_CODE
    files = marker.get("files")
    if not isinstance(files, dict) or not files:
        return f"{DONE} lists no files"
    for name, expected in sorted(files.items()):
        if Path(name).name != name or not isinstance(expected, dict):
            return f"{DONE} lists {name!r}, not a file of this folder"
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != expected.get("size"):
            return f"{name}: size {size}, {DONE} says {expected.get('size')}"
        if file_record(path)["sha256"] != expected.get("sha256"):
            return f"{name}: content differs from its SHA-256 in {DONE}"
    return None


def recorded_seed(run: str | os.PathLike[str]) -> int | None:
    """The seed a run's ``meta.json`` records (None if it cannot be read, or is not a whole number)."""
    try:
        seed = json.loads((Path(run) / "meta.json").read_text(encoding="utf-8")).get("seed")
    except (OSError, ValueError, AttributeError):
        return None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None
