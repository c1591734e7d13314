"""What encoding a default run's figures as PNG costs: opsim's writer against Pillow's.

The six figures of a default run (``opsim``'s config at M users over H days, simulated
here, or the result folder given with ``--folder``) are drawn once; their pixels are then
encoded ``--rounds`` times each way, and the fastest round of each is kept:

* **opsim** — :func:`sim.output.figures._write_png`: RGB, rows unfiltered, zlib level 3;
* **Pillow** — the same pixels, resolution and text through Pillow at the same zlib level,
  which tries every row filter on every row (what opsim wrote before).

Usage:
    python benchmarks/bench_png.py [--users 1000000] [--days 365] [--rounds 7] [--folder DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def pixels_of(folder: Path) -> dict[str, np.ndarray]:
    """Each figure of the result folder, drawn once: its rendered RGBA pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from sim.output.run_report import draw_figure, figure_names, load_folder
    from sim.output.style import house_style

    data = load_folder(folder)
    out = {}
    for name in figure_names(data):
        with house_style():
            canvas = FigureCanvasAgg(draw_figure(data, name))
            canvas.draw()
            out[name] = np.array(canvas.buffer_rgba())
    return out


def with_pillow(rgba: np.ndarray, dpi: float, target: io.BytesIO) -> None:
    """The pixels as Pillow writes them at opsim's zlib level (every row filter tried)."""
    import matplotlib
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    from sim.output.figures import PNG_COMPRESS_LEVEL

    info = PngInfo()
    info.add_text("Software", f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/")
    Image.fromarray(rgba).convert("RGB").save(
        target, format="png", compress_level=PNG_COMPRESS_LEVEL, dpi=(dpi, dpi), pnginfo=info
    )


def measure(folder: Path, rounds: int) -> dict:
    """Seconds (fastest round) and bytes of all figures, each way; the decoded pixels checked equal."""
    from PIL import Image

    from sim.output.figures import _write_png
    from sim.output.style import house_style

    with house_style():
        import matplotlib

        dpi = float(matplotlib.rcParams["figure.dpi"])
    figures = pixels_of(folder)
    out: dict = {"figures": list(figures)}
    for label, encode in (("opsim", _write_png), ("pillow", with_pillow)):
        best, size = float("inf"), 0
        for _ in range(rounds):
            started = time.perf_counter()
            files = []
            for rgba in figures.values():
                buf = io.BytesIO()
                encode(rgba, dpi, buf)
                files.append(buf.getvalue())
            best = min(best, time.perf_counter() - started)
            size = sum(len(f) for f in files)
        for rgba, png in zip(figures.values(), files, strict=True):
            with Image.open(io.BytesIO(png)) as picture:
                assert np.array_equal(np.asarray(picture), rgba[..., :3]), label
        out[label] = {"seconds": best, "bytes": size}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--folder", help="a result folder to take the figures from (else a default run is simulated)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder) if args.folder else None
        if folder is None:
            from sim import simulate

            overrides = [f"population.market_size={args.users}", f"horizon_days={args.days}", "progress=false"]
            folder = simulate(overrides).save(Path(tmp) / "run", figures=False)
        result = measure(folder, args.rounds)
    ours, theirs = result["opsim"], result["pillow"]
    print(
        f"{len(result['figures'])} figures of a default run, fastest of {args.rounds} rounds: "
        f"opsim {1000 * ours['seconds']:.0f} ms, {ours['bytes']:,} bytes; "
        f"Pillow {1000 * theirs['seconds']:.0f} ms, {theirs['bytes']:,} bytes (same pixels)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
