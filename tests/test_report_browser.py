"""The pages in a real browser: headless Chromium at 1280 px, as the person who signs the budget opens them.

For the run page, a sweep page with three swept keys and the index of the sweep's
runs: nothing overflows horizontally (``scrollWidth <= innerWidth``), every image
decodes, no request leaves the machine, and the verdict and headline numbers the
page shows are those of ``summary.json`` (or the sweep's table). Chromium is
Debian's ``/usr/bin/chromium`` driven by Playwright (never ``playwright install``);
the tests skip where it is not installed (``.ci/run`` installs it).

Set ``OPSIM_SCREENSHOTS=docs/img`` to keep the screenshots for the README
(``report_run.png``, ``report_sweep.png``, ``report_index.png``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
import pytest

from sim import simulate
from sim.analysis.stats import t_interval
from sim.app.report_cli import main as report_main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
WIDTH, HEIGHT = 1280, 900
#: Screenshots for the README: the top of each page, this many pixels tall.
SHOT_HEIGHT = 1500
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Opened:
    """A page opened at 1280 px, with the requests that tried to leave the machine."""

    def __init__(self, browser, path: Path):
        self.context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        self.external: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.goto(path.as_uri(), wait_until="load")

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")) or urlparse(url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def check_layout(self) -> int:
        """No horizontal overflow, every image decoded, nothing fetched from outside; returns the image count."""
        width, inner = self.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= inner == WIDTH, f"the page is {width} px wide in a {inner} px window"
        images = self.page.evaluate(
            "Array.from(document.images).map(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0)"
        )
        assert all(images), f"{images.count(False)} of {len(images)} images did not decode"
        assert self.page.evaluate("document.body.dataset.imagesLoaded") == str(len(images))
        assert not self.external
        return len(images)

    def shot(self, tmp_path: Path, name: str) -> Path:
        """Screenshot of the top of the page (kept in OPSIM_SCREENSHOTS if set)."""
        height = min(SHOT_HEIGHT, self.page.evaluate("document.documentElement.scrollHeight"))
        out = tmp_path / name
        self.page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": WIDTH, "height": height}, full_page=True)
        assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 20_000
        keep = os.environ.get("OPSIM_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(out, Path(keep) / name)
        return out

    def close(self) -> None:
        self.context.close()


def shown_number(text: str) -> float:
    """The number in a shown value: '+505,686 USD' → 505686.0, '25.7 %' → 0.257."""
    m = re.search(r"[-+]?[\d,]*\.?\d+", text)
    assert m, text
    value = float(m.group(0).replace(",", ""))
    return value / 100 if "%" in text else value


def decimals(text: str) -> int:
    m = re.search(r"\.(\d+)", text.split("±")[0])
    return len(m.group(1)) if m else 0


def assert_shown(text: str, value: float, what: str) -> None:
    """The shown text is the value rounded as written (half a unit of its last digit)."""
    places = decimals(text) + (2 if "%" in text else 0)
    assert shown_number(text) == pytest.approx(value, abs=0.5 * 10**-places + 1e-12), f"{what}: {text} vs {value}"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    result = simulate(
        [
            "strategy=balanced_mix",
            "population.market_size=20000",
            "horizon_days=60",
            "progress=false",
            "economics.spend_response_multipliers=[2.0]",
        ]
    )
    return result.save(tmp_path_factory.mktemp("browser") / "run")


def test_run_page_at_1280_px_shows_summary_json(browser, run_folder, tmp_path):
    s = json.loads((run_folder / "summary.json").read_text())
    econ, inc = s["economics"], s["economics"]["incremental"]
    opened = Opened(browser, run_folder / "report.html")
    page = opened.page
    assert opened.check_layout() == len(list(run_folder.glob("*.png"))) >= 9
    verdict = page.locator("#verdict")
    assert float(verdict.get_attribute("data-profit")) == inc["profit"]
    assert float(verdict.get_attribute("data-roi")) == inc["roi"]
    assert float(verdict.get_attribute("data-cost")) == econ["cost_total"]
    text = verdict.inner_text()
    day = econ["payback_day"]
    assert (f"pays back on day {day} of 60" if day is not None else "does not pay back within 60 days") in text
    profit_text = re.search(r"Incremental profit ([-+][\d,]+)", text).group(1)
    assert_shown(profit_text, inc["profit"], "verdict profit")
    roi_text = re.search(r"incremental ROI ([-+][\d.]+)", text).group(1)
    assert_shown(roi_text, inc["roi"], "verdict ROI")
    expected = {
        "acquired_users": s["acquired_users"],
        "dau": s["dau"],
        "mau": s["mau"],
        "stickiness_dau_mau": s["stickiness_dau_mau"],
        "retention.d1": s["retention"]["d1"],
        "retention.d7": s["retention"]["d7"],
        "retention.d30": s["retention"]["d30"],
        "revenue": s["revenue"],
        "economics.cost_total": econ["cost_total"],
        "economics.incremental.acquired_users": inc["acquired_users"],
        "economics.incremental.profit": inc["profit"],
        "economics.incremental.roi": inc["roi"],
        "economics.ltv": econ["ltv"]["per_user"],
    }
    for key, value in expected.items():
        node = page.locator(f'table.headline [data-key="{key}"]')
        assert float(node.get_attribute("data-value")) == pytest.approx(value, rel=1e-12), key
        shown = node.inner_text().split("\n")[0]
        assert_shown(shown, value, key)
        if key in ("revenue", "economics.cost_total", "economics.incremental.profit", "economics.ltv"):
            assert shown.endswith(" USD"), shown
    # a 60-day run: the LTV tail is not projected, and the headline says so under the number
    ltv_note = page.locator('table.headline [data-key="economics.ltv"]').inner_text().split("\n")[1:]
    assert econ["ltv"]["tail_projected"] is False and ltv_note == ["observed part only: tail not projected"]
    # the definitions box names what the headline numbers mean; the config is collapsed
    terms = page.locator(".definitions dt").all_inner_texts()
    assert {"incremental profit", "incremental ROI", "payback day", "cost", "marginal ROI"} <= set(terms)
    assert not page.locator("details").first.evaluate("d => d.open")
    # every table fits the window on its own
    widest = page.evaluate(
        "Math.max(...Array.from(document.querySelectorAll('table')).map(t => t.getBoundingClientRect().right))"
    )
    assert widest <= WIDTH
    opened.shot(tmp_path, "report_run.png")
    opened.close()


@pytest.fixture(scope="module")
def three_key_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser_sweep")
    out = root / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "-m", "strategy=paid_growth",
         "strategy.paid_ads.search.daily_budget=20,60", "strategy.paid_ads.social.daily_budget=0,30",
         "population.awareness.q=0.2,0.3", "seed=0,1", "population.market_size=2000", "horizon_days=30",
         "figures=false", "economics.marginal_roi=false", "economics.spend_response_multipliers=[]",
         "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={out}"],
        cwd=root, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert report_main([str(out), "--no-progress"]) == 0  # every run's report, the index, the sweep page
    return out


@pytest.mark.slow
def test_sweep_page_with_three_swept_keys_at_1280_px(browser, three_key_sweep, tmp_path):
    table = pd.read_parquet(three_key_sweep / "sweep_summary.parquet")
    jobs = pd.read_parquet(three_key_sweep / "sweep_jobs.parquet")
    assert len(table) == 8 and (table.seeds == 2).all()
    opened = Opened(browser, three_key_sweep / "report.html")
    page = opened.page
    assert opened.check_layout() == 3  # points, retention, response (three swept numbers: no heatmap)
    # labels: only the varying keys, shortest suffixes; the constant ones are said once
    labels = page.locator('table.ranked [data-key="point"]').all_inner_texts()
    assert labels == list(table.point)
    assert all(re.fullmatch(r"search\.daily_budget=\d+ · social\.daily_budget=\d+ · q=0\.\d", lb) for lb in labels)
    assert "market_size" not in " ".join(labels) and "population.market_size=2000" in page.inner_text("ul.swept")
    # the verdict is the best point's: the mean over seeds of its jobs' summary.json, with the t-interval
    best = table.iloc[0]
    mine = jobs[jobs.point == best.point]
    profits = [
        json.loads((three_key_sweep / j / "summary.json").read_text())["economics"]["incremental"]["profit"]
        for j in mine.job
    ]
    mean, lo, hi, _n = t_interval(profits)
    verdict = page.locator("#verdict")
    assert float(verdict.get_attribute("data-profit")) == pytest.approx(mean, rel=1e-12)
    text = verdict.inner_text()
    assert best.point in text
    shown = re.search(r"Incremental profit ([-+][\d,]+) ± ([\d,]+) USD", text)
    assert_shown(shown.group(1), mean, "sweep verdict profit")
    assert_shown(shown.group(2), (hi - lo) / 2, "sweep verdict half-width")
    # the table has cost and incremental users, and fits
    first = page.locator("table.ranked tbody tr").first
    assert float(first.locator('[data-key="cost"]').get_attribute("data-value")) == pytest.approx(best.cost)
    users = float(first.locator('[data-key="incremental_users"]').get_attribute("data-value"))
    assert users == pytest.approx(best.incremental_users)
    opened.shot(tmp_path, "report_sweep.png")
    opened.close()

    index = Opened(browser, three_key_sweep / "index.html")
    assert index.check_layout() == 0
    links = index.page.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert "report.html" in links and len([h for h in links if h.endswith("/report.html")]) == len(jobs) == 16
    assert all((three_key_sweep / unquote(h)).is_file() for h in links)
    assert set(index.page.locator('[data-key="run"]').all_inner_texts()) == set(table.point)
    index.shot(tmp_path, "report_index.png")
    index.close()


def test_plan_page_in_the_browser(browser, tmp_path):
    """The planner's page: same layout rules; its verdict carries plan.json's profit, ROI and spend."""
    from sim.app.plan import main as plan_main

    out = tmp_path / "plan"
    plan_main(
        [
            "population.sample_size=5000",
            "horizon_days=60",
            "strategy.spend_window.end_day=29",
            "plan.seeds=2",
            "plan.trials=4",
            "plan.batch_size=2",
            "plan.response_levels=4",
            "progress=false",
            f"hydra.run.dir={out}",
        ]
    )
    summary = json.loads((out / "plan.json").read_text())
    opened = Opened(browser, out / "report.html")
    assert opened.check_layout() >= 3
    verdict = opened.page.locator("#verdict")
    assert float(verdict.get_attribute("data-profit")) == pytest.approx(
        summary["metrics"]["incremental_profit"]["mean"]
    )
    assert float(verdict.get_attribute("data-cost")) == pytest.approx(summary["metrics"]["cost"]["mean"])
    assert float(verdict.get_attribute("data-roi")) == pytest.approx(summary["metrics"]["incremental_roi"]["mean"])
    for name, a in summary["allocation"].items():
        cell = opened.page.locator(f'[data-key="{name}.spend"]')
        assert float(cell.get_attribute("data-value")) == pytest.approx(a["lever_spend"])
    opened.shot(tmp_path, "report_plan.png")
