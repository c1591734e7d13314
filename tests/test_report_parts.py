"""The shared page pieces: number formatting, the verdict, definitions, tables, the figure house style."""

from __future__ import annotations

import io
import math
import re
import struct
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from sim.analysis.stats import Z_95
from sim.output import figures as plots
from sim.output.cell_labels import CellLabels
from sim.output.formatting import compact, counted, digits_for, money, number, percent, ratio, with_half_width
from sim.output.glossary import TERMS, definitions
from sim.output.html import Cell, Comparison, definitions_html, side_by_side_html, table_html
from sim.output.style import house_style, money_formatter, text_colour_on
from sim.output.verdict import Estimate, Verdict, run_verdict, sweep_verdict, verdict_html, verdict_text

# --- numbers as text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (583350.4, {}, "583,350 USD"),
        (-1285.2, {"signed": True}, "-1,285 USD"),
        (1285.2, {"signed": True}, "+1,285 USD"),
        (99.994, {}, "99.99 USD"),  # below 100: cents
        (100.0, {}, "100 USD"),  # from 100: whole units
        (-0.004, {"signed": True, "digits": 2}, "+0.00 USD"),  # no "-0.00"
        (float("nan"), {}, "—"),
        (None, {}, "—"),
        (float("inf"), {}, "—"),
    ],
)
def test_money_carries_its_currency_and_separators(value, kwargs, expected):
    assert money(value, "USD", **kwargs) == expected


def test_counts_percentages_ratios_and_compact_numbers():
    assert number(425946.6) == "425,947"  # a sampled market's count is an estimate: rounded
    assert number(-3, signed=True) == "-3" and number(0.2, signed=True) == "+0"
    assert percent(0.2571) == "25.7 %" and percent(None) == "—"
    assert ratio(0.934) == "+0.93" and ratio(-0.05) == "-0.05"
    assert compact(9_999) == "9,999" and compact(10_000) == "10k"  # the boundary of SI prefixes
    assert compact(1_250_000) == "1.25M" and compact(-543_000) == "-543k" and compact(2.5) == "2.50"
    assert compact(3e9) == "3G" and compact(float("nan")) == "—"


def test_interval_written_once_with_the_unit_at_the_end():
    def cash(x):
        return money(x, "USD", signed=True, digits=0)

    assert with_half_width(505686, 9876.2, cash) == "+505,686 ± 9,876 USD"
    assert with_half_width(0.2571, 0.004, percent) == "25.7 ± 0.4 %"
    assert with_half_width(505686, None, cash) == "+505,686 USD"  # no interval: the value alone
    assert with_half_width(505686, 0.0, cash) == "+505,686 USD"
    assert with_half_width(float("nan"), 3.0, cash) == "—"
    assert digits_for(0.0016, 2) == 3 and digits_for(0.02, 2) == 2 and digits_for(0.00001, 2) == 4  # at most 2 more


# --- the verdict -----------------------------------------------------------------------------


def verdict(profit, half, *, payback=None, replicates=1, paid_back=None, roi=0.5, roi_half=0.01):
    return Verdict(
        subject="strategy x",
        currency="USD",
        horizon_days=365,
        cost=Estimate(1000.0, None),
        incremental_profit=Estimate(profit, half),
        incremental_roi=Estimate(roi, roi_half),
        payback_day=payback,
        paid_back=int(payback is not None) if paid_back is None else paid_back,
        replicates=replicates,
        interval="test",
    )


@pytest.mark.parametrize(
    ("profit", "half", "outcome"),
    [
        (100.0, 99.0, "pays"),  # interval (1, 199): above zero
        (100.0, 101.0, "unclear"),  # interval (-1, 201) holds zero
        (-100.0, 99.0, "loses"),
        (-100.0, 101.0, "unclear"),
        (100.0, None, "pays"),  # no interval: the sign decides
        (-100.0, None, "loses"),
        (0.0, None, "unclear"),
    ],
)
def test_verdict_outcome_on_both_sides_of_zero(profit, half, outcome):
    assert verdict(profit, half).outcome == outcome


def test_verdict_line_of_one_run():
    assert verdict_text(verdict(505686.0, 9876.0, payback=135, roi=0.934, roi_half=0.0123)) == (
        "Pays back on day 135 of 365: incremental profit +505,686 ± 9,876 USD, "
        "incremental ROI +0.93 ± 0.01 on 1,000 USD spent."
    )
    line = verdict_text(verdict(-203690.0, 655.0, roi=-0.96995, roi_half=0.0031))
    assert line.startswith("Does not pay back within 365 days: incremental profit -203,690 ± 655 USD")
    assert "incremental ROI -0.970 ± 0.003" in line  # one more decimal so the interval does not round to 0
    assert "break-even cannot be ruled out" in verdict_text(verdict(50.0, 80.0, payback=300))


def test_verdict_line_over_seeds():
    every = verdict(900.0, 100.0, payback=118.4, replicates=3, paid_back=3)
    assert verdict_text(every).startswith("Pays back at every seed (3, mean day 118 of 365)")
    some = verdict(10.0, 100.0, payback=300.0, replicates=3, paid_back=1)
    assert verdict_text(some).startswith("Pays back within 365 days at 1 of 3 seeds, mean day 300 of 365")
    none = verdict(-10.0, 1.0, replicates=3, paid_back=0)
    assert verdict_text(none).startswith("Does not pay back within 365 days at any of 3 seeds")


def summary_with(profit=-200.0, profit_se=10.0, roi=-0.5, roi_se=0.02, payback=None, cost=400.0):
    return {
        "strategy": "paid_growth",
        "days": 70,
        "market_size": 30000,
        "sample_size": 30000,
        "economics": {
            "currency": "EUR",
            "cost_total": cost,
            "payback_day": payback,
            "incremental": {"profit": profit, "roi": roi},
            "monte_carlo": {"groups": 20, "cost_total": 0.0, "incremental": {"profit": profit_se, "roi": roi_se}},
        },
    }


def test_run_verdict_reads_summary_and_uses_z_times_the_monte_carlo_error():
    v = run_verdict(summary_with())
    assert v.incremental_profit.value == -200.0 and v.incremental_profit.half_width == pytest.approx(Z_95 * 10.0)
    assert v.incremental_roi.half_width == pytest.approx(Z_95 * 0.02) and v.cost.value == 400.0
    assert v.horizon_days == 70 and v.payback_day is None and v.outcome == "loses"
    assert run_verdict(summary_with(cost=0.0)) is None  # spent nothing: nothing to judge
    paid = run_verdict(summary_with(profit=300.0, payback=41))
    assert paid.payback_day == 41 and paid.paid_back == 1
    box = verdict_html(paid)
    assert 'class="verdict pays"' in box and 'data-profit="300.0"' in box and 'data-payback-day="41.0"' in box
    assert "day 41 of 70" in box and "EUR" in box
    unknown = summary_with()
    unknown["economics"]["incremental"] = None
    assert "unknown without the baseline run" in verdict_text(run_verdict(unknown))


def test_sweep_verdict_takes_half_the_t_interval():
    row = pd.Series(
        {
            "seeds": 3,
            "paid_back": 2,
            "cost": 100.0,
            "cost_lo": 100.0,
            "cost_hi": 100.0,
            "incremental_profit": 50.0,
            "incremental_profit_lo": 20.0,
            "incremental_profit_hi": 80.0,
            "incremental_roi": 0.5,
            "incremental_roi_lo": 0.2,
            "incremental_roi_hi": 0.8,
            "payback_day": 150.0,
        }
    )
    v = sweep_verdict(row, subject="best point (a=1)", currency="USD", horizon_days=180)
    assert v.incremental_profit.half_width == pytest.approx(30.0) and v.incremental_roi.half_width == pytest.approx(0.3)
    assert v.outcome == "pays" and v.replicates == 3 and v.paid_back == 2
    assert "at 2 of 3 seeds, mean day 150 of 180" in verdict_text(v)


# --- definitions and tables ------------------------------------------------------------------


def test_definitions_carry_the_runs_margin_horizon_and_currency():
    items = dict(definitions(currency="EUR", margin=0.3, horizon_days=365, ltv_days=180))
    assert set(items) == set(TERMS)
    assert "30 % margin within the 365 simulated days" in items["incremental ROI"]
    assert "every EUR spent comes back twice" in items["incremental ROI"]
    assert "180 days of tenure" in items["LTV per user"]
    assert f"{Z_95:.2f}" in items["interval (one run)"]
    picked = definitions(currency="EUR", margin=0.25, horizon_days=90, terms=["cost", "payback day"])
    assert [t for t, _ in picked] == ["cost", "payback day"]
    with pytest.raises(KeyError):
        definitions(currency="EUR", margin=0.25, horizon_days=90, terms=["nope"])
    box = definitions_html([("a<b", "x & y")])
    assert "<dt>a&lt;b</dt><dd>x &amp; y</dd>" in box


def test_table_cells_escape_text_and_carry_their_numbers():
    html_text = table_html(
        ["name", Cell("value", numeric=True)],
        [[Cell("<script>"), Cell("1,234 USD", 1234.5, note="± 3 USD", key="k")]],
        caption="c & d",
    )
    assert "&lt;script&gt;" in html_text and "<script>" not in html_text
    assert (
        '<td class="num" data-value="1234.5" data-key="k">1,234 USD<span class="small">± 3 USD</span></td>' in html_text
    )
    assert "<caption>c &amp; d</caption>" in html_text and '<th scope="row">' in html_text


def test_side_by_side_difference_is_ours_minus_theirs():
    rows = [
        Comparison("users", 1200.0, 1000.0, number, lambda x: number(x, signed=True), 15.0, key="users"),
        Comparison("D30", 0.061, 0.058, percent, key="d30"),
        Comparison("unknown", 5.0, None, number, key="u"),
    ]
    page = side_by_side_html(rows, ours="strategy", theirs="baseline")
    assert 'data-value="200.0" data-key="users.difference">+200 ± 15<' in page
    diff = re.search(r'data-value="([^"]+)" data-key="d30.difference"', page).group(1)
    assert float(diff) == pytest.approx(0.003)
    assert 'data-key="u.difference">—<' in page  # no baseline value: no difference


# --- the figure house style -------------------------------------------------------------------


def test_house_style_is_applied_for_the_block_only_and_names_the_palette():
    before = dict(matplotlib.rcParams)
    with house_style():
        assert matplotlib.rcParams["axes.formatter.useoffset"] is False
        assert matplotlib.rcParams["figure.constrained_layout.use"] is True
        assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0].upper() == "#0072B2"  # Okabe-Ito blue
    assert dict(matplotlib.rcParams) == before
    assert text_colour_on((1.0, 1.0, 1.0)) == "black" and text_colour_on((0.0, 0.0, 0.0)) == "white"
    assert text_colour_on((0.0, 0.13, 0.3)) == "white" and text_colour_on((1.0, 0.9, 0.2)) == "black"
    assert money_formatter("USD")(2_500_000, 0) == "2.5M USD"


_UNDER_SOLARAS_SETTINGS = """
import matplotlib
from matplotlib.figure import Figure
import solara.server.app  # noqa: F401  (first: solara.server.patch imports it)
from solara.server.patch import patch_matplotlib

from sim.output.style import house_style

patch_matplotlib()  # as the explorer's server does: per-session settings, stored unvalidated
default = list(matplotlib.rcParams["figure.figsize"])
with house_style():
    inside = Figure().get_size_inches().tolist()
after = Figure().get_size_inches().tolist()
print(inside, after, default)
assert inside == [7.5, 4.2], inside
assert after == default, (after, default)
"""


def test_house_style_keeps_matplotlib_settings_typed_under_solaras_per_session_settings():
    """The explorer's figures failed ("7.5, 4.2" left as text) when the style went through style.context."""
    pytest.importorskip("solara")
    done = subprocess.run([sys.executable, "-c", _UNDER_SOLARAS_SETTINGS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def _inside(fig) -> bool:
    """Everything drawn (titles, labels, legends, tick labels) lies inside the figure: nothing clipped."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    tight = fig.get_tightbbox(canvas.get_renderer())  # inches, over the artists actually drawn
    width, height = fig.get_size_inches()
    slack = 0.02
    return tight.x0 >= -slack and tight.y0 >= -slack and tight.x1 <= width + slack and tight.y1 <= height + slack


@pytest.fixture(scope="module")
def small_run():
    from sim import simulate

    return simulate(
        [
            "strategy=paid_growth",
            "population.market_size=4000",
            "horizon_days=40",
            "progress=false",
            "economics.marginal_roi=false",
            "economics.spend_response_multipliers=[2.0]",
        ]
    )


def _run_figures(r) -> dict:
    from sim.analysis.retention import cohort_table, pooled_curve_from_table

    econ = r.summary["economics"]
    curve, users = pooled_curve_from_table(r.cohorts)
    base = pooled_curve_from_table(cohort_table(r.baseline_cohort_active))
    title = "consumer_app: market of 4,000 users, 40 days, strategy paid_growth, seed 0"
    return {
        "retention": plots.retention_figure(curve, users, title, baseline=base),
        "groups": plots.retention_groups_figure(r.tables["retention_measures"], title),
        "stages": plots.stages_figure(r.daily, title),
        "heatmap": plots.cohort_heatmap_figure(r.tables["cohort_triangle_weekly"], title),
        "growth": plots.growth_figure(r.tables["growth_weekly"], title),
        "funnel": plots.funnel_figure(r.summary["analytics"]["funnel"], title),
        "payback": plots.payback_figure(r.daily, econ, "paid_growth"),
        "vs_baseline": plots.baseline_comparison_figure(r.daily, "USD", "paid_growth"),
        "spend": plots.spend_response_figure(r.spend_response, "USD"),
    }


def test_run_figures_keep_every_title_and_label_inside_the_figure(small_run):
    r = small_run
    figures = _run_figures(r)
    clipped = [name for name, fig in figures.items() if not _inside(fig)]
    assert not clipped
    legend = [t.get_text() for t in figures["retention"].axes[0].get_legend().get_texts()]
    assert legend[:2] == ["strategy 95 % interval (± up to " + legend[0].split("up to ")[1], "strategy"]
    assert "organic baseline" in legend
    # the heatmap writes a number in every cell that has one
    tri = r.tables["cohort_triangle_weekly"]
    cols = [c for c in tri.columns if c.startswith("w") and 1 <= int(c[1:]) <= plots.HEATMAP_WEEKS]
    cells = int(np.isfinite(tri[cols].to_numpy(float)).sum())
    heat_ax = figures["heatmap"].axes[0]
    (labels,) = [c for c in heat_ax.collections if isinstance(c, CellLabels)]
    numbers = [t for t in labels.texts if re.fullmatch(r"\d+\.\d", t)]
    assert len(numbers) == len(labels.texts) == cells > 0
    # the stage chart puts lapsed users on their own axis
    assert len(figures["stages"].axes) == 2
    # money on the spend axis: currency, no offset or scientific notation
    ax = figures["spend"].axes[0]
    FigureCanvasAgg(figures["spend"]).draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(t.endswith(" USD") for t in ticks) and not ax.xaxis.get_offset_text().get_text()


def _savefig_bytes(fig) -> bytes:
    buf = io.BytesIO()
    with house_style():
        fig.savefig(buf, format="png")
    return buf.getvalue()


def _save_png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    plots.save_png(fig, buf)
    return buf.getvalue()


def _decoded(png: bytes) -> tuple[str, np.ndarray, dict]:
    """A PNG's colour mode, its pixels as RGBA, and its text and resolution chunks."""
    with Image.open(io.BytesIO(png)) as picture:
        return picture.mode, np.asarray(picture.convert("RGBA")), dict(picture.info)


def test_save_png_writes_the_picture_savefig_writes_in_one_drawing(small_run):
    """Every figure drawn twice, fresh: once saved by save_png, once by matplotlib's own savefig.

    The same pixels, resolution and "Software" text; savefig writes RGBA at zlib level 6,
    save_png the opaque figures as RGB at level 3 (fewer bytes in all).
    """
    from sim.output.sweep_report import sweep_heatmap_figure, sweep_points_figure

    table = pd.DataFrame({"day": [1, 2, 3], "observed": [0.3, 0.2, 0.15], "fitted": [0.31, 0.19, 0.15]})
    jobs = pd.DataFrame(
        [{"a.x": a, "b.y": b, "seed": 0, "incremental_profit": a * 10.0 - b} for a in (0, 1) for b in (1, 2)]
    )

    def others():
        return {
            "calibration": plots.calibration_figure(table, "t"),
            "points": sweep_points_figure(_points_table(12, 3), "USD"),
            "sweep_heatmap": sweep_heatmap_figure(jobs, "a.x", "b.y", "incremental_profit", "USD"),
        }

    ours = {**_run_figures(small_run), **others()}
    theirs = {**_run_figures(small_run), **others()}
    sizes = {"ours": 0, "savefig": 0}
    for name, fig in ours.items():
        canvas = fig.canvas
        png, reference = _save_png_bytes(fig), _savefig_bytes(theirs[name])
        mode, pixels, info = _decoded(png)
        reference_mode, reference_pixels, reference_info = _decoded(reference)
        assert (mode, reference_mode) == ("RGB", "RGBA"), name  # every figure opaque
        np.testing.assert_array_equal(pixels, reference_pixels, err_msg=name)
        assert info == reference_info, name  # dpi and the Software text
        assert fig.canvas is canvas  # the figure keeps its own canvas, as after savefig
        sizes["ours"] += len(png)
        sizes["savefig"] += len(reference)
    assert sizes["ours"] < sizes["savefig"]  # in all (a small, plain figure may take a few bytes more)


def _panels_sharing_x(minor_labels: bool = False) -> Figure:
    """Two panels sharing x (the upper one's tick labels off, its marks long), one with minor ticks labelled."""
    from matplotlib.ticker import AutoMinorLocator, ScalarFormatter

    with house_style():
        fig = Figure(figsize=(3.0, 2.4))
        top, bottom = fig.subplots(2, sharex=True)
        top.plot([0, 10], [0, 1])
        top.tick_params(axis="x", length=18)  # long marks under the upper panel, which writes no x labels
        bottom.plot([0, 10], [1, 0])
        bottom.set_title("lower panel")
        if minor_labels:
            bottom.xaxis.set_minor_locator(
                AutoMinorLocator(2)
            )  # every half step, majors included: the axis drops those
            bottom.xaxis.set_minor_formatter(ScalarFormatter())
    return fig


@pytest.mark.parametrize("minor_labels", [False, True])
def test_save_png_measures_less_only_where_the_picture_cannot_change(minor_labels):
    """The spines and tick updates save_png leaves out (figures._fewer_measurements): the pixels savefig draws.

    The upper panel writes no x tick labels: its bottom spine, with marks longer than the
    panels' gap, must stay in the layout, which keeps the marks clear of the lower panel's
    title. With minor ticks, the axis must still drop those at a major tick's place, or
    their labels would be written twice. Each setting is as it was after the drawing, a
    spine the caller left out of the layout included.
    """

    def drawn() -> Figure:
        fig = _panels_sharing_x(minor_labels)
        fig.axes[1].spines["left"].set_in_layout(False)  # the caller's own setting, kept as it is
        return fig

    fig = drawn()
    _mode, pixels, _info = _decoded(_save_png_bytes(fig))
    _mode, reference, _info = _decoded(_savefig_bytes(drawn()))
    np.testing.assert_array_equal(pixels, reference)
    top = fig.axes[0]
    in_layout = {(ax is top, side): spine.get_in_layout() for ax in fig.axes for side, spine in ax.spines.items()}
    assert in_layout.pop((False, "left")) is False
    assert all(in_layout.values())
    assert all(axis.remove_overlapping_locs for ax in fig.axes for axis in (ax.xaxis, ax.yaxis))
    assert top.xaxis.get_tick_params()["labelbottom"] is False  # the case of a spine kept in the layout


def test_save_png_puts_the_settings_back_when_the_drawing_fails():
    """A drawing that raises leaves the caller's figure with its own spines and tick settings."""
    from matplotlib.artist import Artist

    class Broken(Artist):
        def draw(self, renderer):
            raise RuntimeError("broken artist")

    fig = _panels_sharing_x()
    fig.axes[1].add_artist(Broken())
    with pytest.raises(RuntimeError, match="broken artist"):
        plots.save_png(fig, io.BytesIO())
    assert all(spine.get_in_layout() for ax in fig.axes for spine in ax.spines.values())
    assert all(axis.remove_overlapping_locs for ax in fig.axes for axis in (ax.xaxis, ax.yaxis))


def test_save_png_keeps_a_spine_that_belongs_to_no_axis_in_the_layout():
    """A spine made by hand (``Spine.linear_spine``, registered with no axis): no tick labels can stand in for it."""
    from matplotlib.spines import Spine

    def drawn() -> Figure:
        with house_style():
            fig = Figure(figsize=(3.0, 2.0))
            ax = fig.add_subplot()
            ax.plot([0, 1], [1, 0])
            ax.spines["left"] = Spine.linear_spine(ax, "left")
        return fig

    fig = drawn()
    assert fig.axes[0].spines["left"].axis is None
    _mode, pixels, _info = _decoded(_save_png_bytes(fig))
    _mode, reference, _info = _decoded(_savefig_bytes(drawn()))
    np.testing.assert_array_equal(pixels, reference)
    assert fig.axes[0].spines["left"].get_in_layout()


def test_save_png_keeps_the_alpha_channel_of_a_figure_that_is_not_opaque():
    def draw():
        with house_style():
            fig = Figure(figsize=(3, 2))
            fig.patch.set_alpha(0.5)  # what savefig.transparent would not do: a setting of the figure itself
            fig.add_subplot().plot([0, 1], [1, 0])
        return fig

    mode, pixels, info = _decoded(_save_png_bytes(draw()))
    reference_mode, reference_pixels, reference_info = _decoded(_savefig_bytes(draw()))
    assert mode == reference_mode == "RGBA"
    assert (pixels[..., 3] < 255).any()
    np.testing.assert_array_equal(pixels, reference_pixels)
    assert info == reference_info


def test_titles_at_the_fixed_height_are_where_matplotlib_would_place_them(small_run, monkeypatch):
    """The style's ``axes.titley: 1.0`` only skips matplotlib's search for top-side ticks to lift titles over.

    The run's, the calibration's and the sweep's figures (a kept sweep's table too); the plan's
    and the lift's were checked the same way once, by hand.
    """
    from sim.analysis.retention import pooled_curve_from_table
    from sim.output import style
    from sim.output.sweep_report import (
        RetentionCurve,
        retention_curves_figure,
        sweep_heatmap_figure,
        sweep_points_figure,
        sweep_response_figure,
    )

    table = pd.DataFrame({"day": [1, 2, 3], "observed": [0.3, 0.2, 0.15], "fitted": [0.31, 0.19, 0.15]})
    jobs = pd.DataFrame(
        [{"a.x": a, "b.y": b, "seed": 0, "incremental_profit": a * 10.0 - b} for a in (0, 1) for b in (1, 2)]
    )

    study = Path(__file__).parents[1] / "experiments" / "ads_vs_referral" / "results"  # a sweep's table, kept
    study_table = pd.read_parquet(study / "sweep_summary.parquet")
    curve, users = pooled_curve_from_table(small_run.cohorts)
    curves = [
        RetentionCurve("a", curve, np.full_like(curve, 0.01), users),
        RetentionCurve("b", 0.9 * curve, np.full_like(curve, np.nan), users),
    ]

    def every_figure() -> dict[str, bytes]:
        drawn = {
            **_run_figures(small_run),
            "calibration": plots.calibration_figure(table, "t"),
            "points": sweep_points_figure(_points_table(12, 3), "USD"),
            "sweep_heatmap": sweep_heatmap_figure(jobs, "a.x", "b.y", "incremental_profit", "USD"),
            "sweep_response": sweep_response_figure(jobs, "a.x", "incremental_profit", "USD"),
            "sweep_retention": retention_curves_figure(curves),
            "study_points": sweep_points_figure(study_table, "USD"),
        }
        return {name: _save_png_bytes(fig) for name, fig in drawn.items()}

    fixed = every_figure()
    assert style._style_settings()["axes.titley"] == 1.0
    automatic = {**style._style_settings(), "axes.titley": None}  # matplotlib's default: placed at each drawing
    monkeypatch.setattr(style, "_style_settings", lambda: automatic)
    with house_style():
        assert matplotlib.rcParams["axes.titley"] is None
    assert every_figure() == fixed


def test_save_png_leaves_settings_it_does_not_reproduce_to_savefig(small_run):
    """A figure made at another dpi than savefig.dpi: one drawing would write it at its own 200 dpi."""
    with house_style():
        fig = Figure(figsize=(3, 2), dpi=200)
    fig.add_subplot().plot([0, 1], [1, 0])
    ours = _save_png_bytes(fig)
    assert ours == _savefig_bytes(fig)
    assert struct.unpack(">II", ours[16:24]) == (3 * 110, 2 * 110)  # PNG IHDR width, height: savefig.dpi


@pytest.mark.parametrize(
    "setting",
    [
        {"savefig.transparent": True},
        {"savefig.facecolor": "#ffeedd"},
        {"savefig.edgecolor": "red"},
        {"savefig.bbox": "tight"},
    ],
)
def test_save_png_leaves_a_users_savefig_settings_to_savefig(setting):
    def draw():
        with house_style():
            fig = Figure(figsize=(3, 2))
            fig.add_subplot().plot([0, 1], [1, 0])
        fig.patch.set_linewidth(3)  # an edge, so that savefig.edgecolor shows
        return fig

    with matplotlib.rc_context(setting):
        ours, theirs = _save_png_bytes(draw()), _savefig_bytes(draw())
    assert ours == theirs
    assert ours != _save_png_bytes(draw())  # the setting changes the picture


def _small_figure() -> Figure:
    with house_style():
        fig = Figure(figsize=(3, 2))
        fig.add_subplot().plot([0, 1], [1, 0])
    return fig


def test_save_png_draws_once_under_the_house_style(monkeypatch):
    """The one-drawing path is taken (savefig would give the same pixels, only slower)."""

    def refuse(*args, **kwargs):
        raise AssertionError("savefig called")

    ours = _save_png_bytes(_small_figure())
    with matplotlib.rc_context({"savefig.bbox": "standard"}):
        standard = _save_png_bytes(_small_figure())
    monkeypatch.setattr(Figure, "savefig", refuse)
    assert _save_png_bytes(_small_figure()) == ours
    with matplotlib.rc_context({"savefig.bbox": "standard"}):
        assert _save_png_bytes(_small_figure()) == standard == ours


def test_one_drawing_stands_for_savefig_only_where_savefig_would_only_draw():
    fig = _small_figure()
    with matplotlib.rc_context({"savefig.dpi": "figure"}):
        assert plots._one_drawing_is_savefig(fig)
    with matplotlib.rc_context({"savefig.dpi": fig.dpi}):
        assert plots._one_drawing_is_savefig(fig)
    with matplotlib.rc_context({"savefig.dpi": fig.dpi + 1}):
        assert not plots._one_drawing_is_savefig(fig)


@pytest.mark.parametrize(
    "setting",
    [
        {"savefig.format": "pdf"},  # a user's default format: save_png still writes PNG
        {"image.origin": "lower"},  # a user's image origin: the picture is not flipped
        {"savefig.format": "svg", "savefig.bbox": "tight"},  # ... on savefig's path too
    ],
)
def test_save_png_writes_the_png_savefig_writes_whatever_the_users_defaults(setting):
    with matplotlib.rc_context(setting):
        ours, theirs = _save_png_bytes(_small_figure()), _savefig_bytes(_small_figure())
    assert ours.startswith(b"\x89PNG\r\n\x1a\n")
    _mode, pixels, info = _decoded(ours)
    _mode, reference_pixels, reference_info = _decoded(theirs)
    np.testing.assert_array_equal(pixels, reference_pixels)
    assert info == reference_info


def test_calibration_figure_draws_error_bars_only_where_there_are_standard_errors():
    table = pd.DataFrame({"day": [1, 2, 3], "observed": [0.3, 0.2, 0.15], "fitted": [0.31, 0.19, 0.15]})
    fig = plots.calibration_figure(table, "t")
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == {"observed", "simulated (calibrated)"}
    with_se = plots.calibration_figure(table.assign(observed_se=[0.01, 0.01, 0.01]), "t")
    assert "observed (± 2 SE)" in [t.get_text() for t in with_se.axes[0].get_legend().get_texts()]
    assert math.isclose(with_se.get_size_inches()[0], fig.get_size_inches()[0])


def _points_table(n: int, seeds: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    mean = np.sort(rng.normal(0, 5000, n))[::-1]
    half = np.full(n, 800.0 if seeds > 1 else np.nan)
    rows = {
        "point": [f"search.daily_budget={100 * i:,} · reward_referrer={i / 10} · q=0.{i % 9}" for i in range(n)],
        "rank_metric": "incremental_profit",
        "incremental_profit": mean,
        "incremental_profit_lo": mean - half,
        "incremental_profit_hi": mean + half,
        "incremental_roi": mean / 1e4,
        "incremental_roi_lo": (mean - half) / 1e4,
        "incremental_roi_hi": (mean + half) / 1e4,
    }
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("n", "seeds"), [(2, 3), (12, 1), (50, 5)])
def test_sweep_points_chart_stays_readable_from_2_to_50_points(n, seeds):
    from sim.output.sweep_report import FRAME_INCHES, ROW_INCHES, sweep_points_figure

    fig = sweep_points_figure(_points_table(n, seeds), "USD")
    assert _inside(fig)  # no clipped label or title
    height = fig.get_size_inches()[1]
    assert height >= ROW_INCHES * n + FRAME_INCHES  # room for every label, however many points
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == n and all(max(len(line) for line in lb.split("\n")) <= 38 for lb in labels)
    bars = [
        line
        for line in fig.axes[0].get_lines()
        if len(line.get_xdata()) == 2 and line.get_ydata()[0] == line.get_ydata()[1]
    ]
    assert len(bars) == (n if seeds > 1 else 0)  # an interval only where there are seeds to have one
    if seeds == 1:
        assert "no intervals" in fig.texts[0].get_text()


def test_sweep_heatmap_writes_every_cell_and_turns_at_zero():
    from sim.output.sweep_report import sweep_heatmap_figure

    jobs = pd.DataFrame(
        [
            {"a.daily_budget": a, "b.reward": b, "seed": s, "incremental_profit": (a - 1) * 1000.0 + b + s}
            for a in (0, 1, 2)
            for b in (10, 20)
            for s in (0, 1)
        ]
    )
    fig = sweep_heatmap_figure(jobs, "a.daily_budget", "b.reward", "incremental_profit", "USD")
    assert _inside(fig)
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    expected = sorted(compact((a - 1) * 1000.0 + b + 0.5) for a in (0, 1, 2) for b in (10, 20))  # mean over seeds
    assert texts == expected
    image = fig.axes[0].images[0]
    assert image.norm.vcenter == 0.0  # diverging colours centred on break-even
    assert fig.axes[0].get_xlabel() == "reward" and fig.axes[0].get_ylabel() == "daily_budget"


@pytest.mark.parametrize(
    ("curve", "users", "text"),
    [
        ([np.nan, np.nan, np.nan], [0, 0, 0], plots.NO_USERS_TEXT),  # nobody acquired
        ([1.0, np.nan, np.nan], [40, 0, 0], plots.NO_RETENTION_TEXT),  # acquired on the last day: no D1 yet
        ([1.0, 0.3, np.nan], [40, 40, 0], None),  # a D1: drawn
    ],
)
def test_the_retention_figure_says_why_it_is_empty_and_warns_of_nothing(curve, users, text):
    """A 1-day run that acquired users drew an empty grid to day 90 and printed matplotlib's legend warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "No artists with labels found to put in legend" fails the test
        fig = plots.retention_figure(np.array(curve), np.array(users, dtype=float), "t")
        FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    shown = [t.get_text() for t in ax.texts]
    if text is None:
        assert len(ax.lines) >= 1 and plots.NO_RETENTION_TEXT not in shown and plots.NO_USERS_TEXT not in shown
    else:
        assert shown == [text] and not ax.lines


@pytest.mark.parametrize(
    ("n", "noun", "text"),
    [
        (1, "day", "1 day"),
        (0, "day", "0 days"),
        (2, "job", "2 jobs"),
        (1_000_000, "simulated user", "1,000,000 simulated users"),
    ],
)
def test_counted_is_singular_for_one_only(n, noun, text):
    assert counted(n, noun) == text


def test_a_one_day_runs_page_and_verdict_say_day_not_days(tmp_path):
    """ "1 days" in the title, the verdict and the definitions of a 1-day run."""
    from sim import simulate
    from sim.output.run_report import write_report

    result = simulate(["strategy=paid_growth", "population.market_size=2000", "horizon_days=1", "progress=false"])
    result.save(tmp_path / "r", figures=False)
    page = re.sub(r"<[^>]+>", " ", write_report(tmp_path / "r", pngs=False).read_text())
    assert "1 days" not in page and "1 day," in page and "within 1 day" in page, page[:2000]
