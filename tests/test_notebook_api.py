"""opsim in a notebook: figures on the caller's Axes, no backend switch, mappings merged over the
defaults, progress bars that say what they count, and the example notebook executed. (That saving and
plotting leave the backend and pyplot alone is tested in test_architecture.py.)"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim import ConfigError, simulate
from sim.analysis.retention import cohort_retention_curve, pooled_cohort_users
from sim.analysis.sweep_stats import job_metrics, summarize_points
from sim.app import simulate as simulate_module
from sim.output import figures, sweep_report
from sim.output.run_report import FIGURE_CAPTIONS, PANEL_FIGURES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "experiments" / "notebook_quickstart.ipynb"
SMALL = {"population": "game", "population.market_size": 2000, "horizon_days": 20, "progress": False}
NO_EXTRA_RUNS = {"economics.marginal_roi": False, "economics.spend_response_multipliers": []}


@pytest.fixture(scope="module")
def paid():
    """A run with levers and paid ads: every figure applies."""
    return simulate({**SMALL, "strategy": "paid_growth", "economics.spend_response_multipliers": [0.0, 2.0]})


def _drew_on(ax: Axes) -> bool:
    return ax.has_data() or bool(ax.images) or bool(ax.texts)


def test_every_run_figure_function_draws_on_the_given_axes_and_returns_its_figure(paid):
    fig = Figure()
    axes = fig.subplots(2, 4).ravel()
    curve, users = cohort_retention_curve(paid.cohort_active), pooled_cohort_users(paid.cohort_active)
    calls = [
        lambda ax: figures.retention_figure(curve, users, "t", ax=ax),
        lambda ax: figures.cohort_heatmap_figure(paid.tables["cohort_triangle_weekly"], "t", ax=ax),
        lambda ax: figures.growth_figure(paid.tables["growth_weekly"], "t", ax=ax),
        lambda ax: figures.funnel_figure(paid.summary["analytics"]["funnel"], "t", ax=ax),
        lambda ax: figures.payback_figure(paid.daily, paid.summary["economics"], "paid_growth", ax=ax),
        lambda ax: figures.calibration_figure(
            pd.DataFrame({"day": [1, 2], "observed": [0.3, 0.2], "fitted": [0.31, 0.19]}), "t", ax=ax
        ),
    ]
    for call, ax in zip(calls, axes, strict=False):
        assert call(ax) is fig
        assert _drew_on(ax)
    assert not _drew_on(axes[-1])  # the one Axes nobody was given stays empty
    own = Figure()
    assert figures.spend_response_figure(paid.spend_response, "USD", fig=own) is own
    assert len(own.axes) == paid.spend_response["channel"].nunique()
    # several-panel figures go into a given Figure
    for draw in (
        lambda f: figures.stages_figure(paid.daily, "t", fig=f),
        lambda f: figures.baseline_comparison_figure(paid.daily, "USD", "paid_growth", fig=f),
        lambda f: figures.retention_groups_figure(paid.tables["retention_measures"], "t", fig=f),
    ):
        own = Figure()
        assert draw(own) is own and own.axes


def test_without_an_axes_each_function_returns_a_new_plain_figure(paid):
    made = figures.growth_figure(paid.tables["growth_weekly"], "t")
    assert isinstance(made, Figure) and made.axes and made.canvas.manager is None  # not pyplot's


def test_result_plot_draws_every_report_figure_on_a_given_axes_or_figure(paid):
    names = [n for n in FIGURE_CAPTIONS if n not in PANEL_FIGURES]
    fig = Figure()
    axes = fig.subplots(1, len(names))
    for name, ax in zip(names, axes, strict=True):
        assert paid.plot(name, ax=ax) is fig and _drew_on(ax), name
    for name in PANEL_FIGURES:
        panel = Figure()
        assert paid.plot(name, ax=panel) is panel and panel.axes, name
    with pytest.raises(ValueError, match="pass a Figure, not an Axes"):
        paid.plot("spend_response", ax=axes[0])
    organic = simulate(SMALL)
    with pytest.raises(ValueError, match=r"figure='payback' is not allowed: one of retention, .*stages for this run"):
        organic.plot("payback")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Job folders of a sweep over two budgets (two values each; seeds 0 and 1 at one point) and its tables."""
    root = tmp_path_factory.mktemp("sweep")
    rows = []
    for budget in (200, 400):
        for social in (100, 300):
            for seed in (0, 1) if (budget, social) == (200, 100) else (0,):
                overrides = {
                    "strategy.paid_ads.search.daily_budget": budget,
                    "strategy.paid_ads.social.daily_budget": social,
                }
                quick = {**SMALL, **NO_EXTRA_RUNS, "record_events": False, "economics.compare_to_baseline": False}
                result = simulate({**quick, "strategy": "paid_growth", "seed": seed, **overrides})
                job = f"b{budget}_s{social}_seed{seed}"
                result.save(root / job, figures=False)
                point = f"search={budget},social={social}"
                rows.append({"job": job, "point": point, "seed": seed, **overrides, **job_metrics(result.summary)})
    jobs = pd.DataFrame(rows)
    return root, jobs, summarize_points(jobs)


def test_every_sweep_figure_draws_on_the_given_axes(sweep):
    root, jobs, table = sweep
    fig = Figure()
    axes = fig.subplots(1, 3)
    metric = table["rank_metric"].iloc[0]
    search, social = "strategy.paid_ads.search.daily_budget", "strategy.paid_ads.social.daily_budget"
    assert sweep_report.sweep_retention_figure(jobs, table, root, ax=axes[0]) is fig
    assert sweep_report.sweep_heatmap_figure(jobs, search, social, metric, ax=axes[1]) is fig
    assert sweep_report.sweep_response_figure(jobs, search, metric, ax=axes[2]) is fig
    assert all(_drew_on(ax) for ax in axes)
    assert len(axes[0].get_lines()) == 3  # the top three points
    assert axes[1].images[0].get_array().shape == (2, 2)  # two budgets x two budgets
    own = Figure()
    assert sweep_report.sweep_points_figure(table, fig=own) is own and len(own.axes) == 2


def test_simulate_merges_a_mapping_over_the_defaults_and_refuses_a_bare_string():
    result = simulate({"population": {"market_size": 5000}, "horizon_days": 10, "progress": False})
    assert result.summary["market_size"] == 5000 and result.summary["population"] == "consumer_app"
    with pytest.raises(TypeError, match=r"not a string \('game'\); write \['population=game'\]"):
        simulate("game")


def test_progress_bars_say_which_run_they_count(monkeypatch, capsys):
    monkeypatch.setattr(simulate_module, "PROGRESS_DELAY_S", 0)
    result = simulate(
        {**SMALL, "strategy": "paid_growth", "economics.spend_response_multipliers": [0.0]}, progress=True
    )
    err = capsys.readouterr().err
    runs = 1 + result.meta["comparison_runs"]
    # main, baseline, one marginal rerun per budget knob (two channels), one zero-budget rerun per channel
    assert runs == 1 + 1 + 2 + 2
    labels = [
        "main run: strategy paid_growth",
        "baseline (organic, same seed)",
        "marginal ROI: paid_ads_search budget +1 %",
        "marginal ROI: paid_ads_social budget +1 %",
        "spend response: search budget x0",
        "spend response: social budget x0",
    ]
    for i, label in enumerate(labels, start=1):
        assert f"[{i}/{runs}] {label}" in err, label
    assert err.count("| 0/20 [") >= runs  # every bar counts its own run's 20 days, not a shared total
    assert "/120 [" not in err


@pytest.mark.parametrize(("given", "shown"), [(False, False), (0, False), (True, True), (1, True)])
def test_progress_takes_true_false_1_and_0(monkeypatch, capsys, given, shown):
    monkeypatch.setattr(simulate_module, "PROGRESS_DELAY_S", 0)
    simulate({**SMALL, "horizon_days": 5}, progress=given)
    assert ("[1/1] main run" in capsys.readouterr().err) is shown


@pytest.mark.parametrize(
    ("keyword", "given"), [("progress", "no"), ("progress", "false"), ("progress", 2), ("reference", "no")]
)
def test_a_true_false_argument_that_is_not_a_bool_is_refused_before_anything_runs(monkeypatch, keyword, given):
    """``simulate(progress="no")`` showed the bars: a non-empty string is truthy."""
    monkeypatch.setattr(simulate_module, "_run", lambda *args, **kwargs: pytest.fail("a run started"))
    with pytest.raises(ConfigError) as info:
        simulate({**SMALL, "horizon_days": 5}, **{keyword: given})
    assert str(info.value) == f"{keyword}={given!r} is not allowed: True or False (or 1/0)"


@pytest.mark.slow
def test_the_example_notebook_runs_top_to_bottom():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": ROOT}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the retention/stages grid and the batch_run figure
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "D1" in text and "incremental ROI" in text


def test_mesas_line_for_every_step_is_dropped_and_its_other_lines_pass(caplog):
    """Through simulate(), the calibration's cohorts and the planner alike: every model drops the line."""
    import logging

    from sim import load_config
    from sim.core.cohorts import simulate_cohorts
    from sim.core.model import MESA_STEP_LINE, MESA_STEP_LOGGER

    mesa_log = logging.getLogger("MESA")  # an opsim command run in this process earlier set it to WARNING
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="MESA"):
        assert mesa_log.propagate
        simulate({"population": {"market_size": 500}, "horizon_days": 3, "progress": False})
        simulate_cohorts(load_config([]).population, 200, 3, 0)
        logging.getLogger(MESA_STEP_LOGGER).info("registered agent 7")  # another of Mesa's lines
    said = [r.getMessage() for r in caplog.records if r.name.startswith("MESA")]
    assert "registered agent 7" in said
    assert not [m for m in said if m.startswith(MESA_STEP_LINE)], said
