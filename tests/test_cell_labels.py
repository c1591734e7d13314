"""Cell labels drawn as one collection of outlines, and bars drawn as one collection.

The outlines are checked against matplotlib's own ``TextPath`` (an independent layout of
the same text), and where they land against the pixels of the rendered figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextPath

from sim.output import figures as plots
from sim.output.cell_labels import CellLabels, cell_labels, text_outlines
from sim.output.style import house_style, text_colour_on

#: A pixel of rendered ink: darker than this on a white background (0–255 grey).
INK = 128


def _centred_text_path(text: str, prop: FontProperties) -> np.ndarray:
    """TextPath's vertices, moved so that its ink (matplotlib's exact extents of the curves) is centred on 0."""
    path = TextPath((0, 0), text, prop=prop)
    ink = path.get_extents()
    return path.vertices - ((ink.x0 + ink.x1) / 2, (ink.y0 + ink.y1) / 2)


@pytest.mark.parametrize(("size", "family"), [(5.5, None), (7.0, None), (12.0, None), (7.0, "DejaVu Serif")])
def test_outlines_are_textpaths_centred(size, family):
    texts = ["0.0", "18.3", "100.0", "18.3", "-4.5", "7 %", "AV", "x"]  # a repeat, a sign, a kerned pair
    with house_style():
        prop = FontProperties(size=size, family=family)  # another family than the house font's too
        outlines = text_outlines(texts, prop)
        for text, outline in zip(texts, outlines, strict=True):
            expected = TextPath((0, 0), text, prop=prop)
            np.testing.assert_array_equal(outline.codes, expected.codes)
            # the outline is centred on its control points' box, which for these glyphs is their ink's box
            # (curve extrema are on-curve points in the DejaVu fonts): equal up to float rounding
            np.testing.assert_allclose(outline.vertices, _centred_text_path(text, prop), rtol=0, atol=1e-6)
    assert outlines[1] is outlines[3]  # a repeated text is laid out once


def test_blank_texts_have_empty_outlines():
    with house_style():
        outlines = text_outlines(["", " ", "1"], FontProperties(size=7))
    assert len(outlines[0].vertices) == 0 and len(outlines[1].vertices) == 0 and len(outlines[2].vertices) > 0


def _ink(fig: Figure) -> np.ndarray:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].mean(axis=-1) < INK


@pytest.mark.parametrize("dpi", [72, 110, 200])
def test_a_label_is_drawn_centred_on_its_data_point_at_its_point_size(dpi):
    """The ink's box is centred on the data point and as tall as the digits at that size and dpi."""
    size = 20.0
    fig = Figure(figsize=(3, 2), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(0, 3)
    ax.set_ylim(0, 2)
    cell_labels(ax, [1.0], [1.5], ["88"], ["black"], size)
    rows, columns = np.nonzero(_ink(fig))
    # the data point (1, 1.5) in pixels from the top-left corner; half a pixel for the pixel grid
    x, y = ax.transData.transform((1.0, 1.5))
    top = fig.bbox.height - y
    assert abs((columns.min() + columns.max() + 1) / 2 - x) <= 1.0
    assert abs((rows.min() + rows.max() + 1) / 2 - top) <= 1.0
    # an "8" is about 0.73 em tall in DejaVu Sans: the height scales with size × dpi / 72
    expected = TextPath((0, 0), "88", prop=FontProperties(size=size)).get_extents().height * dpi / 72
    assert abs((rows.max() - rows.min() + 1) - expected) <= 2.0


def test_the_collection_holds_every_text_its_position_and_colour():
    fig = Figure()
    ax = fig.add_subplot()
    labels = cell_labels(ax, [0, 1, 2], [2, 1, 0], ["1.0", "2.0", "1.0"], ["black", "white", "black"], 7)
    assert isinstance(labels, CellLabels) and labels in ax.collections
    assert labels.texts == ["1.0", "2.0", "1.0"]
    np.testing.assert_array_equal(labels.get_offsets(), [[0, 2], [1, 1], [2, 0]])
    np.testing.assert_array_equal(labels.get_facecolors()[:, :3], [[0, 0, 0], [1, 1, 1], [0, 0, 0]])
    assert not labels.get_in_layout()
    assert ax.dataLim.get_points().tolist() == Figure().add_subplot().dataLim.get_points().tolist()  # no autoscale


def test_the_heatmap_writes_each_cell_its_value_in_the_colour_that_reads(two_cohort_triangle):
    fig = plots.cohort_heatmap_figure(two_cohort_triangle, "t")
    ax = fig.axes[0]
    (labels,) = [c for c in ax.collections if isinstance(c, CellLabels)]
    assert labels.texts == ["10.0", "55.0", "2.0"]  # row by row, cells without a value left blank
    np.testing.assert_array_equal(labels.get_offsets(), [[0, 0], [1, 0], [0, 1]])
    (cells,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    expected = [text_colour_on(cells.cmap(cells.norm(v))) for v in (10.0, 55.0, 2.0)]
    assert expected == ["white", "black", "white"]  # the darkest cells white, the brightest black
    colours = ["black" if tuple(c[:3]) == (0, 0, 0) else "white" for c in labels.get_facecolors()]
    assert colours == expected


def test_the_heatmap_fills_each_cell_with_its_colour_first_cohort_on_top_and_leaves_missing_cells_white(
    two_cohort_triangle,
):
    fig = plots.cohort_heatmap_figure(two_cohort_triangle, "t")
    ax = fig.axes[0]
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    height = pixels.shape[0]
    (cells,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    vmax = 100 * 0.55
    assert (cells.norm.vmin, cells.norm.vmax) == (0, vmax)  # in percent

    def colour_at(week: int, cohort: int) -> np.ndarray:
        # a quarter cell from the centre, clear of the number written there
        x, y = ax.transData.transform((week - 0.25, cohort - 0.25))
        return pixels[int(height - y), int(x), :3].astype(int)

    for cohort, week, value in ((0, 0, 10.0), (0, 1, 55.0), (1, 0, 2.0)):
        expected = np.round(np.array(cells.cmap(value / vmax)[:3]) * 255)
        np.testing.assert_allclose(colour_at(week, cohort), expected, atol=1)  # Agg rounds each channel
    for cohort, week in ((0, 2), (1, 1), (1, 2)):
        assert colour_at(week, cohort).tolist() == [255, 255, 255]  # no value: the white background
    top = ax.transData.transform((0, 0))[1]
    assert top > ax.transData.transform((0, 1))[1]  # the first cohort is drawn above the second


def _bar_pixels(draw) -> np.ndarray:
    with house_style():
        fig = Figure(figsize=(4, 3))
        ax = fig.add_subplot()
        draw(ax)
        ax.legend(loc="upper left")  # "best" would weigh patches and collections differently
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def test_bars_as_one_collection_draw_the_pixels_of_matplotlibs_bars():
    x = np.arange(1, 9)
    low = np.array([5.0, 7, 0, 3, 9, 2, 4, 6])
    high = np.array([1.0, 2, 3, 0, 1, 2, 5, 1])
    churn = -np.array([2.0, 1, 4, 3, 0, 2, 1, 5])

    def with_bar(ax):
        ax.bar(x, low, color="C0", label="low", width=plots.BAR_WIDTH)
        ax.bar(x, high, bottom=low, color="C1", label="high", width=plots.BAR_WIDTH)
        ax.bar(x, churn, color="C2", label="churn", width=plots.BAR_WIDTH)

    def with_collections(ax):
        plots._bars(ax, x, low, np.zeros(x.size), "C0", "low")
        plots._bars(ax, x, high, low, "C1", "high")
        plots._bars(ax, x, churn, np.zeros(x.size), "C2", "churn")
        ax.autoscale_view()

    np.testing.assert_array_equal(_bar_pixels(with_collections), _bar_pixels(with_bar))


def _bar_boxes(collection) -> np.ndarray:
    """Each bar of a collection as (x centre, bottom, top), from its drawn corners."""
    boxes = []
    for path in collection.get_paths():
        xs, ys = path.vertices[:4, 0], path.vertices[:4, 1]
        boxes.append(((xs.min() + xs.max()) / 2, ys[0], ys[1]))
    return np.array(boxes)


def test_the_growth_figure_stacks_each_weeks_users_and_draws_churn_below_zero():
    """Weeks 0–2 drawn (week 3, partial, left out); by hand: retained from 0, new on top, resurrected on top of
    both, churned from 0 down; the quick ratio on the right axis."""
    growth = pd.DataFrame(
        {
            "week": [0, 1, 2, 3],
            "new": [10, 4, 6, 1],
            "retained": [0, 8, 9, 2],
            "resurrected": [0, 1, 2, 0],
            "churned": [0, 3, 5, 1],
            "active": [10, 13, 17, 3],
            "quick_ratio": [np.nan, 5 / 3, 8 / 5, 1.0],
        }
    )
    fig = plots.growth_figure(growth, "t")
    ax, right = fig.axes
    bars = {c.get_label(): _bar_boxes(c) for c in ax.collections}
    assert list(bars) == ["retained", "new", "resurrected", "churned (lapsed)"]
    np.testing.assert_array_equal(bars["retained"], [[0, 0, 0], [1, 0, 8], [2, 0, 9]])
    np.testing.assert_array_equal(bars["new"], [[0, 0, 10], [1, 8, 12], [2, 9, 15]])
    np.testing.assert_array_equal(bars["resurrected"], [[0, 10, 10], [1, 12, 13], [2, 15, 17]])
    np.testing.assert_array_equal(bars["churned (lapsed)"], [[0, 0, 0], [1, 0, -3], [2, 0, -5]])
    (line,) = right.get_lines()[:1]
    np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(line.get_ydata(), [np.nan, 5 / 3, 8 / 5])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["retained", "new", "resurrected", "churned (lapsed)", "quick ratio (right axis)"]
    assert ax.get_ylim()[0] < -5 and ax.get_ylim()[1] > 17  # every bar inside the axes
    assert right.get_ylim()[0] == 0
    assert not plots.growth_figure(growth.assign(active=0), "t").axes[0].collections  # nobody active: no bars


def test_the_heatmap_shows_weeks_1_to_12_on_a_scale_from_0_to_the_largest_value():
    rows = 53  # a year of cohorts: every second one labelled (53 // 26), smaller numbers above HEATMAP_DENSE_ROWS
    triangle = pd.DataFrame({"cohort_week": np.arange(rows) + 5, "cohort_size": 10})
    for k in range(14):  # w0 and w13 are left out
        triangle[f"w{k}"] = np.full(rows, 0.5 if k in (0, 13) else 0.01 * k)
    fig = plots.cohort_heatmap_figure(triangle, "t")
    ax = fig.axes[0]
    FigureCanvasAgg(fig).draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(k) for k in range(1, 13)]
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(w) for w in range(5, 5 + rows, 2)]
    (cells,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert (cells.norm.vmin, cells.norm.vmax) == (0, 12.0)  # in percent: week k holds k %, w13's 50 % left out
    (labels,) = [c for c in ax.collections if isinstance(c, CellLabels)]
    assert labels.texts[:12] == [f"{k:.1f}" for k in range(1, 13)]
    small = text_outlines(["1.0"], FontProperties(size=5.5))[0].get_extents().height
    assert labels.get_paths()[0].get_extents().height == pytest.approx(small)
