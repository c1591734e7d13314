"""The PNG files' zlib level and the cohort heatmap mesh's geometry and colours."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from sim.output import figures as plots
from sim.output.cell_labels import CellLabels
from sim.output.style import house_style


def _figure() -> Figure:
    with house_style():
        fig = Figure(figsize=(3, 2))
        ax = fig.add_subplot()
        ax.plot([0, 1], [1, 0])
        ax.set_title("a title with some text")
    return fig


def _encoded(picture: Image.Image, level: int, dpi: float, software: str) -> bytes:
    info = PngInfo()
    info.add_text("Software", software)
    buf = io.BytesIO()
    picture.save(buf, format="png", compress_level=level, dpi=(dpi, dpi), pnginfo=info)
    return buf.getvalue()


def test_save_png_encodes_at_zlib_level_3():
    """The file is exactly what Pillow writes for its pixels at zlib level 3 (not savefig's 6, nor 1, 4 or 9)."""
    fig = _figure()
    buf = io.BytesIO()
    plots.save_png(fig, buf)
    png = buf.getvalue()
    with Image.open(io.BytesIO(png)) as picture:
        picture.load()
        software = picture.info["Software"]
        assert picture.mode == "RGB"
        at = {level: _encoded(picture, level, fig.dpi, software) for level in (1, 3, 4, 6, 9)}
    assert len(set(at.values())) == len(at)  # the levels tell apart on this picture
    assert png == at[3]


def test_the_heatmap_cells_are_unit_squares_centred_on_their_numbers_and_fill_the_axes(two_cohort_triangle):
    fig = plots.cohort_heatmap_figure(two_cohort_triangle, "t")
    ax = fig.axes[0]
    (cells,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    (labels,) = [c for c in ax.collections if isinstance(c, CellLabels)]
    corners = cells.get_coordinates()  # (rows + 1, columns + 1, 2): the cells' corners
    assert corners.shape == (3, 4, 2)
    np.testing.assert_array_equal(corners[0, :, 0], [-0.5, 0.5, 1.5, 2.5])  # week k spans k ± ½
    np.testing.assert_array_equal(corners[:, 0, 1], [-0.5, 0.5, 1.5])  # cohort row r spans r ± ½
    # every number at the centre of its cell
    for x, y in labels.get_offsets():
        left, right = corners[0, int(x), 0], corners[0, int(x) + 1, 0]
        top, bottom = corners[int(y), 0, 1], corners[int(y) + 1, 0, 1]
        assert (x, y) == ((left + right) / 2, (top + bottom) / 2)
    # the axes show exactly the cells, the first cohort at the top: no blank margin, no cell cut off
    assert ax.get_xlim() == (-0.5, 2.5)
    assert ax.get_ylim() == (1.5, -0.5)


def test_the_heatmap_uses_the_cividis_colour_scale(two_cohort_triangle):
    fig = plots.cohort_heatmap_figure(two_cohort_triangle, "t")
    (cells,) = [c for c in fig.axes[0].collections if isinstance(c, QuadMesh)]
    assert cells.cmap.name == "cividis"  # a scale readable with colour-vision deficiencies, in print and grey
