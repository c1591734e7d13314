"""Figures drawn in worker processes are the figures drawn in the caller, byte for byte."""

from __future__ import annotations

import pytest

from sim import load_config, simulate
from sim.output import run_report
from sim.output.figure_workers import FIGURE_WEIGHTS, FigureWorkers, share_out


def test_shares_are_balanced_heaviest_first_and_cover_every_figure():
    names = ["retention", "retention_groups", "cohort_heatmap", "growth", "funnel", "stages"]
    shares = share_out(names, 2)
    assert sorted(n for share in shares for n in share) == sorted(names)
    assert shares[0][0] == "cohort_heatmap"  # the heaviest alone first
    loads = [sum(FIGURE_WEIGHTS.get(n, 1.0) for n in share) for share in shares]
    assert abs(loads[0] - loads[1]) <= max(FIGURE_WEIGHTS.values())  # greedy: within one figure's weight
    assert share_out(["funnel"], 3) == [["funnel"]]  # no empty shares
    assert share_out(names, 1) == [sorted(names, key=lambda n: -FIGURE_WEIGHTS.get(n, 1.0))]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    cfg = load_config(["strategy=paid_growth", "population.market_size=20000", "horizon_days=60", "progress=false"])
    return simulate(cfg).save(tmp_path_factory.mktemp("run"), figures=False)


def test_workers_draw_the_same_png_bytes_as_the_caller(folder):
    data = run_report.load_folder(folder)
    here = run_report.figures(data)
    assert {"cohort_heatmap", "vs_baseline", "spend_response", "payback"} <= set(here)
    with FigureWorkers(2) as workers:
        there = run_report.figures(data, workers)
    assert list(there) == list(here)  # report order
    assert there == here


def test_a_closed_pool_draws_in_the_caller(folder):
    workers = FigureWorkers(1)
    workers.close()
    assert workers.draw(folder, ["funnel"]) is None
    data = run_report.load_folder(folder)
    assert run_report.figures(data, workers) == run_report.figures(data)
