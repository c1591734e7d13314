"""The runner the hand-mutant scripts share: apply one snippet rewrite, run its tests, restore the file.

Each script (``ltv_mutants.py``, ``mut25_mutants.py``, ``mut26_mutants.py``) lists its mutants as
``(id, group, file, old, new)`` and, per group, the pytest argument lists that test it; this module
applies each mutant (``old`` must occur exactly once in ``file``), runs the group's tests in order
until one fails, restores the file with ``git checkout -- FILE`` (so commit, or lose, any change
to the mutated files first), refuses to go on if ``git diff -- sim`` is not empty, and writes the
results (JSON) and a table on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: pytest in this interpreter, quiet, stopping at the first failure.
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x"]


def _run(args: list[str], timeout_s: int) -> str:
    """``pass``, ``timeout``, the first failed test's id, or ``rc N``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        proc = subprocess.run(PYTEST + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return "timeout"
    if proc.returncode == 0:
        return "pass"
    failed = [
        line.split(" - ")[0].removeprefix("FAILED ") for line in proc.stdout.splitlines() if line.startswith("FAILED")
    ]
    return failed[0] if failed else f"rc {proc.returncode}"


def _apply(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"{path}: {old!r} occurs {text.count(old)} times")
    path.write_text(text.replace(old, new))


def run_mutants(
    mutants: Sequence[tuple[str, str, str, str, str]],
    tests: Mapping[str, Sequence[list[str]]],
    results_name: str,
    ids: Sequence[str],
    *,
    timeout_s: int,
) -> None:
    """Apply, test and restore each mutant (all, or those named in ``ids``); write the results.

    Args:
        mutants: ``(id, group, file, old, new)``: one snippet rewrite each.
        tests: Per group, the pytest argument lists run in order until one fails.
        results_name: The results file's name in ``.mutation/``.
        ids: Mutant ids to run; empty for all (the results file is then started afresh).
        timeout_s: Seconds one pytest run may take (a mutant that hangs counts as killed by ``timeout``).

    """
    out_file = ROOT / ".mutation" / results_name
    results = json.loads(out_file.read_text()) if ids and out_file.exists() else {}
    for mid, group, file, old, new in mutants:
        if ids and mid not in ids:
            continue
        start = time.time()
        try:
            _apply(ROOT / file, old, new)
            status, by = "survived", None
            for args in tests[group]:
                if (verdict := _run(args, timeout_s)) != "pass":
                    status, by = "killed", verdict
                    break
        finally:
            subprocess.run(["git", "checkout", "--", file], cwd=ROOT, check=True)
        diff = subprocess.run(["git", "diff", "--stat", "--", "sim"], cwd=ROOT, capture_output=True, text=True).stdout
        if diff:
            raise SystemExit(f"git diff not empty after {mid}: {diff}")
        seconds = round(time.time() - start)
        results[mid] = {"status": status, "by": by, "file": file, "old": old, "new": new, "s": seconds}
        print(f"{mid:22s} {status:9s} {seconds:4d}s {by or ''}", flush=True)
        out_file.write_text(json.dumps(results, indent=1))
    survived = [k for k, v in results.items() if v["status"] == "survived"]
    print(f"{len(results)} mutants, {len(results) - len(survived)} killed, survivors: {survived}")
