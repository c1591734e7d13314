"""The benchmark and study scripts still run (smoke test: small sizes, no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Seconds a script may take at these small sizes.
SCRIPT_TIMEOUT_S = 300


def run_script(path: str, *args: str) -> subprocess.CompletedProcess:
    """Run a script of the repository (``path`` from its root) with this Python; its output captured."""
    return subprocess.run(
        [sys.executable, str(ROOT / path), *args],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )


def test_core_benchmark_quick_mode_prints_its_table():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_core.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| vectorized | 20,000 | 30 |" in proc.stdout and "| reference | 2,000 | 5 |" in proc.stdout


def test_preset_retention_study_runs():
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "experiments" / "preset_retention.py"),
            "--sample-size",
            "20000",
            "--days",
            "40",
            "--seeds",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("| consumer_app |") == 1 and "| game |" in proc.stdout


def test_calibration_benchmark_runs(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_calibrate.py"), "--cohort-users", "2000", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "30-day table, 2,000 simulated users per evaluation:" in proc.stdout and out.exists()


def test_figure_cpu_benchmark_runs_and_checks_its_ways_agree(tmp_path):
    """Small sizes; the script itself asserts the same PNG bytes, versions and push bits each way."""
    import json

    out = tmp_path / "figure_cpu.json"
    proc = run_script(
        "benchmarks/bench_figure_cpu.py",
        *("--users", "20000", "--days", "60", "--rounds", "1", "--chunk", "5000", "--json", str(out)),
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert len(result["figures"]["figures"]) == 6 and result["figures"]["save_png_of"] > 0
    assert "six figures, CPU (median of 1)" in proc.stdout and "versions: header lines" in proc.stdout


def test_uniforms_benchmark_runs_and_checks_its_ways_agree(tmp_path):
    """Three draw chunks (a pair and one left); the script itself asserts the same bits each way."""
    import json

    out = tmp_path / "uniforms.json"
    proc = run_script(
        "benchmarks/bench_uniforms.py", *("--draw-chunks", "3", "--rounds", "1", "--calls", "2", "--json", str(out))
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["draw_chunks"] == 3 and set(result["microseconds"]) == {"numpy", "one", "pairs"}
    assert "one chunk of 3 draw chunks of 65,536 uniforms" in proc.stdout
