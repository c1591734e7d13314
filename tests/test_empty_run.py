"""A valid config that acquires nobody finishes with complete, honest outputs: no crash, no blank page."""

from __future__ import annotations

import json
import sys

import pytest

import sim.app.cli
from sim.output import completion


@pytest.mark.parametrize(
    "overrides",
    [
        ["population.market_size=1", "horizon_days=10"],
        ["population.conversion_rate=0", "population.market_size=2000", "horizon_days=10"],
        ["population.awareness.p=0", "population.market_size=2000", "horizon_days=10"],
    ],
    ids=["one person", "nobody converts", "nobody hears of it"],
)
def test_a_run_that_acquires_nobody_writes_every_output(tmp_path, monkeypatch, overrides):
    monkeypatch.setattr(sys, "argv", ["opsim"])
    out = tmp_path / "run"
    sim.app.cli.main([*overrides, "progress=false", f"hydra.run.dir={out}"])  # exit 0: returns
    assert completion.check_complete(out) is None
    summary = json.loads((out / "summary.json").read_text())
    assert summary["acquired_users"] == 0 and summary["dau"] == 0 and summary["revenue"] == 0
    assert set(summary["retention"].values()) == {None}  # no cohort: no retention (null), not 0 %
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "retention.png", "cohort_heatmap.png", "growth.png", "stages.png", "funnel.png"} <= names
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5 and "users acquired" in page


def test_a_sweep_job_that_acquires_nobody_completes(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["opsim"])
    folder = tmp_path / "sweep"
    argv = ["-m", "population.conversion_rate=0,0.5", "population.market_size=2000", "horizon_days=10"]
    sim.app.cli.main([*argv, "figures=false", f"hydra.sweep.dir={folder}"])  # exit 0: returns
    jobs = sorted(p.parent for p in folder.rglob(completion.DONE))
    assert len(jobs) == 2 and all(completion.check_complete(j) is None for j in jobs)
    assert json.loads((folder / "failures.json").read_text()) == []
