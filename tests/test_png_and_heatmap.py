"""The PNG files' zlib level and the cohort heatmap mesh's geometry and colours."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure
from PIL import Image

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


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG file's chunks as (type, body), each CRC checked, read by the specification's layout."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks.append((kind, body))
        at += 12 + length
    return chunks


def test_save_png_writes_unfiltered_rows_at_zlib_level_3(tmp_path):
    """The chunks in order, the header of an 8-bit RGB picture, 110 dpi as 4331 pixels a metre (110 / 0.0254 =
    4330.7), and one IDAT that is zlib level 3 (not 1, 6 or 9) of the rows, each led by filter 0 (None)."""
    fig = _figure()
    buf = io.BytesIO()
    plots.save_png(fig, buf)
    png = buf.getvalue()
    chunks = _chunks(png)
    assert [kind for kind, _ in chunks] == [b"IHDR", b"pHYs", b"tEXt", b"IDAT", b"IEND"]
    body = dict(chunks)
    width, height = 3 * 110, 2 * 110
    assert struct.unpack(">IIBBBBB", body[b"IHDR"]) == (width, height, 8, 2, 0, 0, 0)
    assert struct.unpack(">IIB", body[b"pHYs"]) == (4331, 4331, 1)
    assert body[b"tEXt"].startswith(b"Software\0Matplotlib version") and body[b"IEND"] == b""
    raw = zlib.decompress(body[b"IDAT"])
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, 1 + 3 * width)
    assert (rows[:, 0] == 0).all()
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.mode == "RGB" and picture.size == (width, height)
        np.testing.assert_array_equal(np.asarray(picture), rows[:, 1:].reshape(height, width, 3))
    at = {level: zlib.compress(raw, level) for level in (1, 3, 6, 9)}
    assert len(set(at.values())) == len(at)  # the levels tell apart on this picture
    assert body[b"IDAT"] == at[3]
    plots.save_png(_figure(), tmp_path / "f.png")  # to a path: the same bytes
    assert (tmp_path / "f.png").read_bytes() == png


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


def test_the_heatmap_names_its_numbers_in_its_title_and_has_no_colour_bar(two_cohort_triangle):
    """Each cell writes its number, which the colour repeats: the title says what the numbers are."""
    fig = plots.cohort_heatmap_figure(two_cohort_triangle, "t")
    assert len(fig.axes) == 1  # no colour bar's Axes
    assert (
        fig.axes[0].get_title(loc="left").split("\n")[0]
        == "Cohort retention by acquisition week: % of each cohort active"
    )
