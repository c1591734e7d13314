"""What machine a benchmark ran on: the processor, its caches, the cores, Python and numpy.

The figures of the speed issue (#17) depend on the processor and its caches far more
than on the drift of one machine (docs/speed.md compares two 2-core virtual machines).
``run_all.py`` writes this description next to the benchmarks' JSON
(``machine_info.json``) and names it in its header, as ``bench_core.py`` does.

Usage:
    python benchmarks/machine_info.py     # prints the description
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np

#: Where Linux describes the first CPU's caches.
CACHE_FOLDER = Path("/sys/devices/system/cpu/cpu0/cache")
#: Where Linux names the processor.
CPUINFO = Path("/proc/cpuinfo")


def processor_name() -> str:
    """The processor's model name (``/proc/cpuinfo``), else what :func:`platform.processor` says."""
    try:
        for line in CPUINFO.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _index_number(folder: Path) -> int:
    """``index10`` → 10, so that it sorts after ``index2``."""
    digits = folder.name.removeprefix("index")
    return int(digits) if digits.isdigit() else -1


def caches() -> dict[str, str]:
    """Size of each data or unified cache level of the first CPU, e.g. ``{"L2": "2048K", "L3": "266240K"}``.

    Where one level has two such caches, the one with the higher index is named.
    """
    sizes: dict[str, str] = {}
    for index in sorted(CACHE_FOLDER.glob("index*"), key=_index_number):
        try:
            kind = (index / "type").read_text().strip()
            if kind == "Instruction":
                continue
            sizes[f"L{(index / 'level').read_text().strip()}"] = (index / "size").read_text().strip()
        except OSError:
            continue
    return sizes


def describe() -> dict[str, object]:
    """The machine, as a dict that JSON can hold."""
    return {
        "processor": processor_name(),
        "architecture": platform.machine(),
        "cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "caches": caches(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def one_line(info: dict[str, object] | None = None) -> str:
    """The description on one line, for a benchmark's header."""
    info = describe() if info is None else info
    cache_text = ", ".join(f"{level} {size}" for level, size in info["caches"].items())  # type: ignore[union-attr]
    return (
        f"{info['processor']} ({info['architecture']}, {info['cores_available']} cores available"
        f"{', ' + cache_text if cache_text else ''}), Python {info['python']}, numpy {info['numpy']}"
    )


if __name__ == "__main__":
    print(one_line())
    print(json.dumps(describe(), indent=2))
