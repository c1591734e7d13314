"""Screenshots of the three pages for the README: a run, a sweep over three keys, and the sweep's index.

Builds a run of ``activation_push`` and a sweep of the ads-vs-referral study over
three keys (12 points, 2 seeds) in a temporary folder, rebuilds the reports with
``opsim-report`` and photographs the top of each page in headless Chromium at
1280 px (Debian's ``/usr/bin/chromium`` driven by Playwright, a dev dependency):

    python experiments/report_screenshots.py --out docs/img

writes ``report_run.png``, ``report_sweep.png`` and ``report_index.png``. The same
pages are checked in ``tests/test_report_browser.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sim import simulate
from sim.app.report_cli import main as report_main

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1280, 1500
RUN = ["strategy=activation_push", "population.market_size=200000", "horizon_days=180", "progress=false"]
SWEEP = [
    "-m",
    "--config-dir",
    str(ROOT / "experiments" / "ads_vs_referral"),
    "--config-name",
    "ads_vs_referral",
    "population.sample_size=20000",
    "strategy.paid_ads.search.daily_budget=0,750,1500",
    "strategy.referral.reward_referrer=0.1,0.5",
    "strategy.referral.invite_rate=0.1,0.15",
    "seed=0,1",
    "hydra/launcher=joblib",
    "hydra.launcher.n_jobs=2",
    "hydra.sweep.dir=multirun/ads_vs_referral",
]


def shoot(pages: dict[str, Path], out: Path) -> None:
    """Photograph the top of each page at 1280 px."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("report_screenshots: chromium is not installed (apt-get install chromium)")
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for name, path in pages.items():
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            page.goto(path.as_uri(), wait_until="load")
            height = min(HEIGHT, page.evaluate("document.documentElement.scrollHeight"))
            clip = {"x": 0, "y": 0, "width": WIDTH, "height": height}
            page.screenshot(path=str(out / name), clip=clip, full_page=True)
            print(f"{out / name}")
            page.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="folder of the screenshots")
    args = parser.parse_args()
    out = args.out.resolve()
    with tempfile.TemporaryDirectory(prefix="opsim-shots-") as tmp, contextlib.chdir(tmp):
        # run from the temporary folder: the pages name their folders relative to it
        run = simulate(RUN).save("activation_push")
        proc = subprocess.run([sys.executable, "-m", "sim", *SWEEP], check=False)
        if proc.returncode != 0:
            raise SystemExit(proc.returncode)
        sweep = Path("multirun") / "ads_vs_referral"
        report_main([str(sweep)])
        shoot(
            {
                "report_run.png": (run / "report.html").resolve(),
                "report_sweep.png": (sweep / "report.html").resolve(),
                "report_index.png": (sweep / "index.html").resolve(),
            },
            out,
        )


if __name__ == "__main__":
    main()
