"""Figure text: Chinese, Japanese and Korean names drawn in a CJK font, or one warning that says what to install."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sim.output import figure_workers, style
from sim.output import figures as plots
from sim.output.style import MissingFontWarning, has_cjk, house_style

#: Two Chinese characters: drawn in a CJK font they differ; drawn as missing-glyph boxes they are the same box.
NEW, USE = "新", "用"
#: A character that neither DejaVu Sans nor a CJK font has (matplotlib warns of it as of any missing glyph).
NOT_CJK_MISSING = "\N{KHMER LETTER KA}"


def _groups(segments: tuple[str, ...]) -> pd.DataFrame:
    """``retention_measures.parquet`` rows: classic D1 and D7 of each segment."""
    rows = [
        {"by": "segment", "group": name, "measure": "classic", "day_n": day, "share": share, "users": 100}
        for name in segments
        for day, share in ((1, 0.4), (7, 0.2))
    ]
    return pd.DataFrame(rows)


def _pixels(text: str) -> np.ndarray:
    """The figure text ``text``, alone, large, rendered in the house style."""
    with house_style():
        fig = Figure(figsize=(0.6, 0.6), dpi=100)
        fig.text(0.5, 0.5, text, fontsize=24, ha="center", va="center")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _drawn_with_warnings(*figures: Figure) -> list[warnings.WarningMessage]:
    """The warnings raised while the figures are written as PNG, every one recorded."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fig in figures:
            plots.save_png(fig, io.BytesIO())
    return caught


@pytest.fixture
def no_cjk_font(monkeypatch):
    """As on a machine with no CJK font (the once-per-process warning not given yet)."""
    monkeypatch.setattr(style, "cjk_families", lambda: ())
    style.warn_missing_cjk_font.cache_clear()
    yield
    style.warn_missing_cjk_font.cache_clear()


@pytest.mark.parametrize(
    ("text", "cjk"),
    [
        ("新用户", True),  # simplified Chinese
        ("かな カナ", True),  # hiragana, katakana
        ("한국어", True),  # Hangul syllables
        ("a，b", True),  # a full-width comma alone
        ("paid_growth café Ωμέγα", False),  # Latin and Greek
        ("", False),
    ],
)
def test_cjk_text_is_told_apart_from_other_text(text, cjk):
    assert has_cjk(text) is cjk


@pytest.mark.skipif(not style.cjk_families(), reason="no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
def test_chinese_characters_are_drawn_as_themselves_not_as_boxes():
    """Two different characters give different pixels, and nothing warns of a missing glyph."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        new, use = _pixels(NEW), _pixels(USE)
    assert (new < 128).any() and (use < 128).any()  # something was drawn
    assert not np.array_equal(new, use)
    assert not [w for w in caught if "missing from font" in str(w.message)]


@pytest.mark.skipif(not style.cjk_families(), reason="no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
def test_latin_text_is_drawn_as_before_where_a_cjk_font_is_installed(monkeypatch):
    """The CJK font is a fallback only: a figure of Latin text has the same pixels with or without it."""
    fig = plots.retention_groups_figure(_groups(("casual", "core")), "consumer_app, 90 days")
    with_fallback = _pixels("D7 12.5 % casual (100 users)")
    buf_with = io.BytesIO()
    plots.save_png(fig, buf_with)
    monkeypatch.setattr(style, "cjk_families", lambda: ())
    fig = plots.retention_groups_figure(_groups(("casual", "core")), "consumer_app, 90 days")
    buf_without = io.BytesIO()
    plots.save_png(fig, buf_without)
    assert buf_with.getvalue() == buf_without.getvalue()
    assert np.array_equal(with_fallback, _pixels("D7 12.5 % casual (100 users)"))


def test_without_a_cjk_font_chinese_names_give_one_warning_that_says_what_to_install(no_cjk_font):
    """Not one warning per character and figure: one for the process, naming the Debian package."""
    first = plots.retention_groups_figure(_groups(("新用户", "核心用户")), "中文应用, 90 days")
    second = plots.retention_groups_figure(_groups(("新用户",)), "中文应用, 90 days")
    caught = _drawn_with_warnings(first, second)
    assert [w.category for w in caught] == [MissingFontWarning]
    assert "apt-get install fonts-noto-cjk" in str(caught[0].message)
    assert "fontlist-" in str(caught[0].message)  # matplotlib's font list, to delete so the new font is found
    assert _drawn_with_warnings(plots.retention_groups_figure(_groups(("新用户",)), "t")) == []  # given already


def test_without_a_cjk_font_latin_text_warns_of_nothing(no_cjk_font):
    assert _drawn_with_warnings(plots.retention_groups_figure(_groups(("casual", "core")), "consumer_app")) == []


def test_without_a_cjk_font_other_missing_glyphs_are_still_named_one_by_one(no_cjk_font):
    """A missing character that no CJK font would have is matplotlib's warning as before, not the font hint."""
    caught = _drawn_with_warnings(plots.retention_groups_figure(_groups((f"fans {NOT_CJK_MISSING}",)), "t"))
    assert caught  # (matplotlib warns each time it lays the text out)
    assert {(w.category, str(w.message)) for w in caught} == {
        (UserWarning, f"Glyph {ord(NOT_CJK_MISSING)} (\\N{{KHMER LETTER KA}}) missing from font(s) DejaVu Sans.")
    }


def test_workers_warnings_are_raised_again_in_the_caller_each_once(monkeypatch, no_cjk_font):
    """Two workers without a CJK font each warn once: the caller raises the warning once."""
    monkeypatch.setattr(
        figure_workers,
        "draw_pngs",
        lambda data, names: {name: _png(plots.retention_groups_figure(_groups(("新用户",)), name)) for name in names},
    )
    first_drawn, first_raised = figure_workers._draw_share(None, ["a"])
    style.warn_missing_cjk_font.cache_clear()  # the second worker is another process
    second_drawn, second_raised = figure_workers._draw_share(None, ["b"])
    assert set(first_drawn) == {"a"} and set(second_drawn) == {"b"}
    assert [category for _, category, _, _ in first_raised + second_raised] == [MissingFontWarning] * 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure_workers._raise_again(first_raised + second_raised)
    assert [(w.category, str(w.message)) for w in caught] == [(MissingFontWarning, first_raised[0][0])]


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    plots.save_png(fig, buf)
    return buf.getvalue()


#: A subtitle as long as a run's can be: a long population and strategy name, many overrides.
LONG_TITLE = (
    "consumer_app_eu_and_apac_markets: market of 1,000,000 users (200,000 simulated), 365 days, "
    "strategy retention_first_with_push_and_winback, seed 12, overrides strategy.push.messages_per_week=3 "
    "strategy.paid_ads.tiktok.daily_budget=400"
)


def _titles_outside(fig: Figure) -> list[str]:
    """The titles (of each Axes, left, centre and right, and the figure's) not wholly inside the figure."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    bounds = fig.bbox
    titles = [t for ax in fig.axes for t in (ax.title, ax._left_title, ax._right_title)]
    titles += [fig._suptitle] if fig._suptitle is not None else []
    outside = []
    for text in titles:
        if not text.get_text():
            continue
        box = text.get_window_extent(renderer)
        if box.x0 < bounds.x0 or box.x1 > bounds.x1 or box.y0 < bounds.y0 or box.y1 > bounds.y1:
            outside.append(text.get_text())
    return outside


def _curves(n: int = 3) -> list:
    from sim.output.sweep_report import RetentionCurve

    days = np.arange(91)
    mean = 0.5 * np.exp(-days / 20)
    return [
        RetentionCurve(f"daily_budget={100 * 2**i}", (1 - i / 10) * mean, np.full(91, 0.02), np.full(91, 1000.0))
        for i in range(n)
    ]


def _swept_jobs() -> pd.DataFrame:
    """Three swept keys, two seeds: the response figure averages over two long key names in its title."""
    keys = ("strategy.paid_ads.tiktok.daily_budget", "strategy.push.messages_per_week", "strategy.referral.invite_rate")
    rows = [
        {"job": "j", "point": "p", "seed": seed, "days": 90, keys[0]: b, keys[1]: m, keys[2]: r, "profit": b * m * r}
        for b in (100, 200)
        for m in (1, 2, 3)
        for r in (0.1, 0.2, 0.3)
        for seed in (0, 1)
    ]
    return pd.DataFrame(rows)


def _on_axes(width: float):
    """A notebook's own Axes of ``width`` inches (made outside the house style, as a user's would be)."""
    return Figure(figsize=(width, 4)).add_subplot()


def _long_title_figures() -> dict[str, Figure]:
    from sim.output.sweep_report import retention_curves_figure, sweep_response_figure

    curve, users = 0.5 * np.exp(-np.arange(91) / 20), np.full(91, 1000.0)
    calibration = pd.DataFrame({"day": [1, 2, 3], "observed": [0.3, 0.2, 0.15], "fitted": [0.31, 0.19, 0.15]})
    funnel = {"aware": 1000, "acquired": 400, "retained": 100, "activated": 50}
    days = np.arange(30)
    daily = pd.DataFrame(
        {"day": days, "new": 10, "retained": 20, "activated": 5, "dormant": days, "churned": 2 * days, "dau": 30}
    )
    daily = daily.assign(cost_total=5.0, gross_profit=1.0 + days / 10)
    weeks = pd.DataFrame(
        {"week": range(5), "new": 10, "retained": 20, "resurrected": 2, "churned": 8, "quick_ratio": 1.5, "active": 32}
    )
    triangle = pd.DataFrame({"cohort_week": [0, 1], "cohort_size": [10, 10], "w0": 1.0, "w1": [0.4, 0.3], "w2": 0.2})
    strategy = "retention_first_with_push_winback_and_referrals"
    return {
        "sweep_retention": retention_curves_figure(_curves()),
        "sweep_retention on a 6-inch Axes": retention_curves_figure(_curves(), ax=_on_axes(6)),
        "sweep_response": sweep_response_figure(_swept_jobs(), "strategy.paid_ads.tiktok.daily_budget", "profit"),
        "retention": plots.retention_figure(curve, users, LONG_TITLE),
        "retention_groups": plots.retention_groups_figure(_groups(("casual", "core")), LONG_TITLE),
        "funnel": plots.funnel_figure(funnel, LONG_TITLE),
        "calibration": plots.calibration_figure(calibration, LONG_TITLE),
        "stages": plots.stages_figure(daily, LONG_TITLE),
        "growth": plots.growth_figure(weeks, LONG_TITLE),
        "cohort_heatmap": plots.cohort_heatmap_figure(triangle, LONG_TITLE),
        "payback": plots.payback_figure(daily, {"currency": "USD", "payback_day": None}, strategy),
    }


@pytest.mark.parametrize("name", list(_long_title_figures()))
def test_a_long_title_is_wholly_inside_the_figure(name):
    assert _titles_outside(_long_title_figures()[name]) == []


def _title_box(fig: Figure):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return fig.axes[0]._left_title.get_window_extent(canvas.get_renderer())


def test_only_a_title_that_would_leave_the_figure_is_wrapped():
    """A title that fits is drawn as it is (two lines: title and subtitle); a long one takes more lines."""
    funnel = {"aware": 10, "acquired": 4, "retained": 1, "activated": 1}
    short = plots.funnel_figure(funnel, "consumer_app, 90 days")
    drawn = _title_box(short)
    short.axes[0]._left_title.set_wrap(False)
    assert _title_box(short).bounds == drawn.bounds
    long = _title_box(plots.funnel_figure(funnel, LONG_TITLE))
    assert long.height > 1.5 * drawn.height  # two lines more at least


def _png_of(build) -> tuple[bytes, int, list[tuple[type, str]]]:
    """``save_png_of(build)``: the PNG, how many figures it built, and the warnings it raised."""
    built = []

    def counted() -> Figure:
        built.append(1)
        return build()

    buf = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plots.save_png_of(counted, buf)
    return buf.getvalue(), len(built), [(w.category, str(w.message)) for w in caught]


def _short_title_figures() -> dict[str, Figure]:
    """Every figure of :func:`_long_title_figures` that has a subtitle, with a subtitle that fits."""
    funnel = {"aware": 1000, "acquired": 400, "retained": 100, "activated": 50}
    weeks = pd.DataFrame(
        {"week": range(5), "new": 10, "retained": 20, "resurrected": 2, "churned": 8, "quick_ratio": 1.5, "active": 32}
    )
    return {
        "funnel": plots.funnel_figure(funnel, "consumer_app, 90 days"),
        "growth": plots.growth_figure(weeks, "consumer_app, 90 days"),
        "retention_groups": plots.retention_groups_figure(_groups(("casual", "core")), "consumer_app, 90 days"),
    }


@pytest.mark.parametrize("name", ["funnel", "growth", "retention_groups"])
def test_a_figure_whose_titles_fit_is_drawn_once_unwrapped_with_the_pixels_of_a_wrapped_drawing(name):
    png, built, raised = _png_of(lambda: _short_title_figures()[name])
    assert built == 1 and raised == []
    assert png == _png(_short_title_figures()[name])  # save_png: matplotlib's wrapping at every layout


@pytest.mark.parametrize("name", [name for name in _long_title_figures() if "6-inch" not in name])
def test_a_figure_with_a_title_to_wrap_is_drawn_again_wrapped_as_before_with_only_its_warnings(name):
    """The unwrapped try is dropped with its warnings (a long title can collapse constrained layout)."""
    png, built, raised = _png_of(lambda: _long_title_figures()[name])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wrapped = _png(_long_title_figures()[name])
    assert png == wrapped
    assert raised == [(w.category, str(w.message)) for w in caught]
    assert built == (1 if name in TITLES_THAT_FIT else 2)


#: Figures of :func:`_long_title_figures` whose long text is not in a title (a legend, an axis label): drawn once.
TITLES_THAT_FIT = ("sweep_retention", "sweep_response", "payback")


def test_a_kept_drawing_raises_its_warnings_again(no_cjk_font):
    """A figure drawn once, its titles unwrapped, still says which glyph is missing."""
    _, built, raised = _png_of(lambda: plots.retention_groups_figure(_groups((f"fans {NOT_CJK_MISSING}",)), "t"))
    assert built == 1
    assert raised and {category for category, _ in raised} == {UserWarning}
    assert all(f"Glyph {ord(NOT_CJK_MISSING)}" in message for _, message in raised)


def _line_at(align: str, room: float):
    """A wrappable text of one line anchored (``ha=align``) ``room`` pixels from the edge it runs to, drawn."""
    with house_style():
        fig = Figure(figsize=(7.5, 2), dpi=110)
    x = {"left": fig.bbox.x1 - room, "right": room, "center": fig.bbox.x1 - room / 2}[align] / fig.bbox.width
    text = fig.text(x, 0.5, WRAP_LINE, ha=align, wrap=True)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    drawn_lines = text._get_wrapped_text().count("\n") + 1  # what matplotlib drew
    return drawn_lines, plots._would_wrap(text, canvas.get_renderer())


#: A line of several words whose width is not a whole number of pixels.
WRAP_LINE = "consumer_app: market of 1,000,000 users"


def _line_width() -> float:
    with house_style():
        fig = Figure(figsize=(7.5, 2), dpi=110)
    prop = fig.text(0, 0, "").get_fontproperties()
    return FigureCanvasAgg(fig).get_renderer().get_text_width_height_descent(WRAP_LINE, prop, False)[0]


@pytest.mark.parametrize("align", ["left", "right", "center"])
@pytest.mark.parametrize(("spare", "lines"), [(0.25, 1), (-0.25, 2), (0.0, None), ("between", 2)])
def test_a_line_is_said_to_wrap_exactly_where_matplotlib_wraps_it(align, spare, lines):
    """Room for the line's rounded-up width plus or minus a quarter pixel (one line; two), exactly that room
    (the two agree whatever rounding the anchor's position gets), and room between the line's width and its
    rounded-up width (two lines: matplotlib compares the rounded-up width)."""
    width = _line_width()
    assert np.ceil(width) - width > 0.1  # so that "between" is between
    room = (width + np.ceil(width)) / 2 if spare == "between" else np.ceil(width) + spare
    drawn_lines, said = _line_at(align, room)
    if lines is not None:
        assert drawn_lines == lines
    assert said == (drawn_lines > 1)


def test_warnings_of_a_dropped_drawing_are_not_raised_even_where_warnings_are_errors():
    """The unwrapped try of a long title collapses constrained layout (a UserWarning); the wrapped drawing does not."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.save_png_of(lambda: _long_title_figures()["funnel"], io.BytesIO())


def test_a_line_of_one_word_is_never_said_to_wrap():
    """matplotlib does not break a word: a one-word line wider than the room stays one line."""
    with house_style():
        fig = Figure(figsize=(1, 1), dpi=110)
    text = fig.text(0.5, 0.5, "strategy.paid_ads.tiktok.daily_budget=400\nshort", wrap=True)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    assert text._get_wrapped_text() == text.get_text()
    assert not plots._would_wrap(text, canvas.get_renderer())


def test_only_wrappable_texts_are_drawn_unwrapped_other_texts_are_left_as_they_are():
    """A text of two lines that matplotlib never wraps keeps its rotation mode (the anchor mode would move it)."""

    def build() -> Figure:
        fig = plots.funnel_figure({"aware": 10, "acquired": 4, "retained": 1, "activated": 1}, "consumer_app")
        fig.axes[0].text(0.5, 0.5, "a note of\ntwo lines", transform=fig.axes[0].transAxes, fontsize=14)
        return fig

    png, built, _ = _png_of(build)
    assert built == 1
    assert png == _png(build())
