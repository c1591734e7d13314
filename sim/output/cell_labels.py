"""Numbers written into many cells at once, as one collection of glyph outlines.

A default run's cohort heatmap writes 534 numbers. As ``Text`` artists each one is laid
out twice (to place it, then to draw it), looked up in the font cache and rendered
glyph by glyph on its own: about 0.8 ms a number, some 0.45 s of the figure's 0.6–0.7 s
here. :func:`cell_labels` lays each distinct text out once with matplotlib's own
text-to-path conversion (:data:`matplotlib.textpath.text_to_path`, each glyph's
outline read from the font once for all the texts) and draws all of them as one
:class:`~matplotlib.collections.PathCollection`, which Agg fills in one call: the
figure took 0.23 s then (``benchmarks/bench_overhead.py`` times it; 0.15–0.17 s with later changes). Each outline is the one
:class:`~matplotlib.textpath.TextPath` gives for the same text and font, moved so that
its box is centred on the cell (tested). The glyphs are filled without hinting, as any
path is: at the heatmap's 5.5–7 pt they read as the text did. The font is the first of
the family list that is found; a character it lacks is drawn as its missing-glyph box,
where a ``Text`` would try the next font of the list (numbers never need that).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.path import Path
from matplotlib.textpath import text_to_path
from matplotlib.transforms import Affine2D

__all__ = ["CellLabels", "cell_labels", "text_outlines"]

#: Points per inch (outlines are built in points, then scaled with the figure's dpi).
POINTS_PER_INCH = 72.0


class CellLabels(PathCollection):
    """Texts written as outlines at data positions of an Axes; ``texts`` holds them, in order."""

    def __init__(self, paths: Sequence[Path], texts: Sequence[str], **kwargs: object) -> None:
        super().__init__(paths, **kwargs)
        self.texts = list(texts)


def text_outlines(texts: Sequence[str], prop: FontProperties) -> list[Path]:
    """Each text's glyph outlines in points, with its outline's bounding box centred on (0, 0).

    The outlines are those of ``TextPath((0, 0), text, prop=prop)``, moved. Each distinct
    text is laid out once (a heatmap's numbers repeat: 153 distinct among 534 in a
    default run) and each glyph's outline read from the font once.
    """
    font = get_font(findfont(prop))
    font.set_size(text_to_path.FONT_SCALE, text_to_path.DPI)  # the size TextPath lays text out at
    scale = prop.get_size_in_points() / text_to_path.FONT_SCALE
    glyph_outlines: dict = {}
    outlines: dict[str, Path] = {}
    for text in dict.fromkeys(texts):
        glyphs, glyph_outlines, _rects = text_to_path.get_glyphs_with_font(font, text, glyph_map=glyph_outlines)
        vertices, codes = [], []
        for glyph, x, y, _size in glyphs:
            glyph_vertices, glyph_codes = glyph_outlines[glyph]
            vertices.append(np.add(glyph_vertices, (x, y)))
            codes.append(glyph_codes)
        joined = np.concatenate(vertices) * scale if vertices else np.zeros((0, 2))
        if not len(joined):
            outlines[text] = Path(joined)
            continue
        joined_codes = np.concatenate(codes)
        drawn = joined[joined_codes != Path.CLOSEPOLY]  # a closing vertex is not a point of the outline (often 0, 0)
        centre = (drawn.min(axis=0) + drawn.max(axis=0)) / 2
        outlines[text] = Path(joined - centre, joined_codes)
    return [outlines[text] for text in texts]


def cell_labels(
    ax: Axes, x: Sequence[float], y: Sequence[float], texts: Sequence[str], colours: Sequence[str], size: float
) -> CellLabels:
    """Write ``texts[i]`` centred at data position (``x[i]``, ``y[i]``) of ``ax`` in ``colours[i]``.

    The labels are left out of the layout (as ``Text(in_layout=False)`` would be): cells
    are inside the Axes. Call it within :func:`~sim.output.style.house_style` so the
    house font is used.

    Returns:
        The collection added to ``ax`` (its ``texts`` are the numbers written).

    """
    points_to_pixels = Affine2D().scale(1 / POINTS_PER_INCH) + ax.figure.dpi_scale_trans
    labels = CellLabels(
        text_outlines(texts, FontProperties(size=size)),
        texts,
        offsets=np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)]),
        offset_transform=ax.transData,
        transform=points_to_pixels,
        facecolors=list(colours),
        edgecolors="none",
        linewidths=0,
    )
    labels.set_in_layout(False)
    ax.add_collection(labels, autolim=False)
    return labels
