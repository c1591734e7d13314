"""The HTML report: self-contained, with its figures, rebuilt by opsim-report; rendered by Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import pytest

from sim import simulate
from sim.app.report_cli import main as report_main

FIGURES = {"retention", "cohort_heatmap", "growth", "funnel", "stages", "payback", "spend_response"}


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    result = simulate(
        [
            "strategy=paid_growth",
            "population.market_size=30000",
            "horizon_days=70",
            "progress=false",
            "economics.marginal_roi=false",
        ]
    )
    return result.save(tmp_path_factory.mktemp("run") / "paid")


def embedded_images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_report_is_self_contained_with_every_figure(run_folder):
    page = (run_folder / "report.html").read_text()
    images = embedded_images(page)
    assert len(images) == len(FIGURES) and all(img[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert not re.search(r'src="(?!data:)', page)  # nothing loaded from elsewhere
    for name in FIGURES:
        assert (run_folder / f"{name}.png").exists()
    assert "classic D1 / D7 / D30" in page and "incremental ROI" in page and "paid_ads" in page
    assert "Retention measures" in page and "rolling D30" in page and "bracket 1-7" in page


def test_opsim_report_rebuilds_the_report_of_an_existing_folder(run_folder, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_folder, copy)
    for p in copy.glob("*.png"):
        p.unlink()
    (copy / "report.html").unlink()
    assert report_main([str(copy)]) == 0
    assert len(embedded_images((copy / "report.html").read_text())) == len(FIGURES)
    assert {p.stem for p in copy.glob("*.png")} == FIGURES


def test_opsim_report_on_a_folder_of_runs_writes_an_index(run_folder, tmp_path):
    for name in ("a", "b"):
        shutil.copytree(run_folder, tmp_path / "sweep" / name)
    assert report_main([str(tmp_path / "sweep")]) == 0
    index = (tmp_path / "sweep" / "index.html").read_text()
    assert index.count("report.html") == 2


def test_opsim_report_refuses_a_folder_without_results(tmp_path):
    assert report_main([str(tmp_path)]) == 2


def test_report_renders_in_headless_chromium(run_folder, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    url = (run_folder / "report.html").as_uri()
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=False
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    loaded = re.search(r'data-images-loaded="(\d+)"', dom.stdout)
    assert loaded and int(loaded.group(1)) == len(FIGURES), "not every image decoded in the browser"
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [chromium, *flags, "--window-size=1100,2400", f"--screenshot={shot}", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0 and shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 50_000
