"""The run report: self-contained, the verdict and every headline number from summary.json, strategy vs baseline."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sim import simulate
from sim.analysis.stats import Z_95
from sim.app import report_cli
from sim.app.report_cli import main as report_main

FIGURES = {
    "vs_baseline",
    "payback",
    "spend_response",
    "retention",
    "retention_groups",
    "cohort_heatmap",
    "growth",
    "funnel",
    "stages",
}
SMALL = ["population.market_size=30000", "horizon_days=70", "progress=false"]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    result = simulate(["strategy=paid_growth", *SMALL, "economics.spend_response_multipliers=[2.0]"])
    return result.save(tmp_path_factory.mktemp("run") / "paid")


@pytest.fixture(scope="module")
def page_text(run_folder):
    return (run_folder / "report.html").read_text()


def embedded_images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def cell(page: str, key: str) -> tuple[float | None, str]:
    """(data-value, shown text) of the cell with ``data-key=key``."""
    m = re.search(rf'<t[dh]([^>]*data-key="{re.escape(key)}"[^>]*)>(.*?)</t[dh]>', page)
    assert m, f"no cell {key}"
    value = re.search(r'data-value="([^"]*)"', m.group(1))
    text = html.unescape(re.sub(r"<span.*", "", m.group(2)))
    return (None if value is None else float(value.group(1))), text


def test_report_is_self_contained_with_every_figure(run_folder, page_text):
    images = embedded_images(page_text)
    assert len(images) == len(FIGURES) and all(img[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert not re.search(r'(src|href)="(?!data:|#)', page_text)  # nothing loaded from elsewhere
    for name in FIGURES:
        assert (run_folder / f"{name}.png").exists()
    assert "Classic D_N" in page_text and "Rolling D_N" in page_text and "days 1–7" in page_text
    # the resolved config is there, collapsed
    assert re.search(r"<details><summary>Resolved configuration \(config.yaml\)</summary><pre>", page_text)
    assert "paid_ads:" in page_text


def test_verdict_and_headline_numbers_are_summary_json(run_folder, page_text):
    s = json.loads((run_folder / "summary.json").read_text())
    econ, inc, mc = s["economics"], s["economics"]["incremental"], s["economics"]["monte_carlo"]["incremental"]
    verdict = re.search(r'<section class="verdict (\w+)" id="verdict"([^>]*)>(.*?)</section>', page_text, re.S)
    assert float(re.search(r'data-profit="([^"]+)"', verdict.group(2)).group(1)) == inc["profit"]
    assert float(re.search(r'data-roi="([^"]+)"', verdict.group(2)).group(1)) == inc["roi"]
    text = html.unescape(re.sub(r"<[^>]+>", " ", verdict.group(3)))
    if econ["payback_day"] is None:
        assert "does not pay back within 70 days" in text and verdict.group(1) in ("loses", "unclear")
    else:
        assert f"pays back on day {econ['payback_day']} of 70" in text
    # the interval is z_0.975 times the Monte-Carlo standard error, as written
    assert f"{inc['profit']:+,.0f} ± {Z_95 * mc['profit']:,.0f} USD" in text
    expected = {
        "acquired_users": s["acquired_users"],
        "dau": s["dau"],
        "mau": s["mau"],
        "retention.d1": s["retention"]["d1"],
        "retention.d30": s["retention"]["d30"],
        "revenue": s["revenue"],
        "economics.cost_total": econ["cost_total"],
        "economics.incremental.acquired_users": inc["acquired_users"],
        "economics.incremental.profit": inc["profit"],
        "economics.incremental.roi": inc["roi"],
        "economics.incremental.cac": inc["cac"],
        "economics.ltv": econ["ltv"]["per_user"],
    }
    for key, value in expected.items():
        shown_value, _ = cell(page_text, key)
        assert shown_value == pytest.approx(value, rel=1e-12), key
    # money with its currency and thousands separators
    assert cell(page_text, "revenue")[1] == f"{s['revenue']:,.0f} USD"
    assert cell(page_text, "economics.cost_total")[1] == f"{econ['cost_total']:,.0f} USD"
    assert cell(page_text, "economics.incremental.cac")[1] == f"{inc['cac']:,.2f} USD"


def test_baseline_column_is_the_organic_run_with_the_same_seed(run_folder, page_text):
    """Bookkeeping: the baseline column equals an independent organic run (common random numbers)."""
    s = json.loads((run_folder / "summary.json").read_text())
    organic = simulate(["strategy=baseline", *SMALL])
    assert s["baseline"]["acquired_users"] == organic.summary["acquired_users"]
    assert s["baseline"]["revenue"] == pytest.approx(organic.summary["revenue"], rel=1e-12)
    assert s["baseline"]["retention"] == pytest.approx(organic.summary["retention"])
    pd.testing.assert_frame_equal(pd.read_parquet(run_folder / "baseline_cohorts.parquet"), organic.cohorts)
    ours, _ = cell(page_text, "acquired_users.ours")
    theirs, _ = cell(page_text, "acquired_users.theirs")
    diff, diff_text = cell(page_text, "acquired_users.difference")
    assert (ours, theirs) == (s["acquired_users"], organic.summary["acquired_users"])
    assert diff == ours - theirs == s["economics"]["incremental"]["acquired_users"]
    assert "±" in diff_text  # the Monte-Carlo interval of the difference
    profit_diff, _ = cell(page_text, "profit.difference")
    assert profit_diff == pytest.approx(s["economics"]["incremental"]["profit"], rel=1e-9)
    cost_ours, _ = cell(page_text, "cost.ours")
    assert cost_ours == s["economics"]["cost_total"] and cell(page_text, "cost.theirs")[0] == 0.0


def test_cost_by_lever_cac_by_channel_and_marginal_roi(run_folder, page_text):
    econ = json.loads((run_folder / "summary.json").read_text())["economics"]
    assert set(econ["cost_by_lever"]) == {"paid_ads_search", "paid_ads_social"}
    for lever, cost in econ["cost_by_lever"].items():
        assert cell(page_text, f"cost.{lever}")[0] == cost
        assert cell(page_text, f"marginal_roi.{lever}")[0] == pytest.approx(econ["marginal_roi"][lever])
    for channel, cac in econ["cac_by_channel"].items():
        assert cell(page_text, f"cac.{channel}")[0] == pytest.approx(cac)


@pytest.fixture(scope="module")
def organic_folder(tmp_path_factory):
    result = simulate(["population.market_size=3000", "horizon_days=20", "progress=false"])
    return result.save(tmp_path_factory.mktemp("run") / "organic")


def test_a_run_without_levers_says_there_is_nothing_to_pay_back(organic_folder):
    folder = organic_folder
    page = (folder / "report.html").read_text()
    assert 'class="verdict none"' in page and "nothing to pay back" in page
    assert "Strategy vs organic baseline" not in page and 'id="money"' not in page
    assert not (folder / "payback.png").exists() and (folder / "retention.png").exists()


def test_opsim_report_rebuilds_the_report_of_an_existing_folder(run_folder, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_folder, copy)
    for p in copy.glob("*.png"):
        p.unlink()
    (copy / "report.html").unlink()
    assert report_main([str(copy)]) == 0
    assert len(embedded_images((copy / "report.html").read_text())) == len(FIGURES)
    assert {p.stem for p in copy.glob("*.png")} == FIGURES
    # the run drew its report from its data in memory, the rebuild from the files: the same bytes
    for name in (f"{stem}.png" for stem in FIGURES):
        assert (copy / name).read_bytes() == (run_folder / name).read_bytes(), name
    page = (copy / "report.html").read_text().replace(f"<code>{copy}</code>", f"<code>{run_folder}</code>")
    assert page == (run_folder / "report.html").read_text()  # but for the folder named


def test_opsim_report_on_an_unfinished_run_says_so_and_reports_what_is_there(run_folder, tmp_path, capsys):
    """A run stopped while writing (no DONE.json) got a normal report and no word."""
    copy = tmp_path / "stopped"
    shutil.copytree(run_folder, copy)
    (copy / "DONE.json").unlink()
    capsys.readouterr()
    assert report_main([str(copy)]) == 0 and (copy / "report.html").is_file()
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [
        f"opsim-report: warning: {copy} is not a finished run (no readable DONE.json): its report shows the files "
        "as they are"
    ]
    assert not (copy / "DONE.json").exists()  # not made to look finished
    shutil.copytree(run_folder, tmp_path / "finished")  # the other side: a finished run, no warning
    assert report_main([str(tmp_path / "finished")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_a_run_saved_over_another_leaves_none_of_its_files(run_folder, tmp_path):
    from sim.output.completion import read_marker
    from sim.output.result import result_file_names

    folder = tmp_path / "reused"
    shutil.copytree(run_folder, folder)
    (folder / "notes.txt").write_text("mine")  # not a result file: kept
    written = {p.name for p in run_folder.iterdir()} - {"DONE.json"}
    assert written <= result_file_names()  # the paid run with spend response writes every kind of file
    organic = simulate([*SMALL, "record_events=false"])
    organic.save(folder)
    names = {p.name for p in folder.iterdir()}
    listed = set(read_marker(folder)["files"])
    assert names == listed | {"DONE.json", "notes.txt"}  # nothing of the paid run left behind
    assert (
        not {"baseline_cohorts.parquet", "spend_response.parquet", "payback.png", "retention_measures.parquet"} & names
    )
    page = (folder / "report.html").read_text()
    assert "Strategy vs organic baseline" not in page and "baseline dashed" not in page


def test_opsim_report_on_a_folder_of_runs_writes_a_linked_index_with_progress(organic_folder, tmp_path, capsys):
    for name in ("a", "b"):
        shutil.copytree(organic_folder, tmp_path / "runs" / name)
    assert report_main([str(tmp_path / "runs")]) == 0
    index = (tmp_path / "runs" / "index.html").read_text()
    assert index.count('href="a/report.html"') == 1 and index.count('href="b/report.html"') == 1
    assert "<style>" in index and "incremental profit" in index and "0 USD" in index  # spent nothing
    err = capsys.readouterr().err
    assert "reports" in err and "2/2" in err  # tqdm's progress bar
    seed = json.loads((organic_folder / "meta.json").read_text())["seed"]
    seeds = re.findall(r'</a></td><td class="num" data-value="([\d.]+)">(\d*)</td>', index)  # after the run's link
    assert seeds == [(f"{seed:.1f}", str(seed))] * 2, seeds  # the seed column was blank


def test_opsim_report_refuses_a_folder_without_results(tmp_path):
    assert report_main([str(tmp_path)]) == 2


def _fake_run(folder: Path) -> Path:
    """A folder that looks like a run to the search (its summary.json cannot be read)."""
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text("{")
    return folder


def test_opsim_report_looks_for_runs_at_most_max_run_depth_folders_below_the_folder_given(tmp_path, capsys):
    """``opsim-report /`` walked the whole file system looking for a summary.json (and failed on a vanished /tmp dir)."""
    deep = _fake_run(tmp_path / "a" / "b" / "c" / "d")  # 4 folders below
    assert report_main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"opsim-report: error: {tmp_path}: no summary.json in it or up to 3 folders below it (not an opsim result "
        "folder: give a run folder, a sweep folder or a folder of them)\n"
    )
    assert report_cli.MAX_RUN_DEPTH == 3  # a sweep's jobs: 1; outputs/<date>/<time>: 2; multirun/<date>/<time>/<job>: 3
    assert report_cli.find_runs(tmp_path) == []
    assert report_cli.find_runs(tmp_path / "a") == [deep]  # 3 below: found
    assert report_cli.find_runs(deep) == [deep]


def test_the_search_for_runs_skips_hidden_linked_and_run_folders(tmp_path):
    runs = [_fake_run(tmp_path / "multirun" / "2026-11-30" / "07-24-56" / f"job_{i}") for i in range(2)]
    _fake_run(runs[0] / "nested")  # inside a run: not a run of the folder
    _fake_run(tmp_path / ".venv" / "x")  # hidden
    (tmp_path / "multirun" / "link").symlink_to(runs[1], target_is_directory=True)  # linked: found where it is
    assert report_cli.find_runs(tmp_path / "multirun") == runs
    assert report_cli.find_runs(tmp_path) == []  # 4 below


def test_every_headline_number_has_its_definition_on_the_page(page_text):
    from sim.output.run_report import HEADLINE_TERMS

    headline = re.search(r'<table class="headline">(.*?)</table>', page_text, re.S).group(1)
    rows = [html.unescape(r) for r in re.findall(r'<th scope="row">([^<]+)</th>', headline)]
    terms = {html.unescape(t) for t in re.findall(r"<dt>([^<]+)</dt>", page_text)}
    assert len(rows) == 15 and all(HEADLINE_TERMS[r] in terms for r in rows)


def _measure_table(page: str, caption: str) -> dict[str, dict[str, float | None]]:
    """A measures table of the page: row label → column header → the cell's data-value (None if blank)."""
    body = re.search(rf"<caption>{re.escape(caption)}</caption>(.*?)</table>", page, re.S).group(1)
    header = [html.unescape(h) for h in re.findall(r"<th[^>]*>([^<]*)</th>", body.split("</thead>")[0])][1:]
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body.split("</thead>")[1], re.S):
        label = html.unescape(re.search(r'<th scope="row">([^<]*)</th>', row).group(1))
        values = [None if v is None else float(v) for v in _cell_values(row)]
        out[label] = dict(zip(header, values, strict=True))
    return out


def _cell_values(row: str) -> list[str | None]:
    return [
        (m.group(1) if m else None)
        for m in (re.search(r'data-value="([^"]*)"', td) for td in re.findall(r"<td[^>]*>", row))
    ]


def test_retention_tables_show_each_groups_measure_at_each_day(run_folder, page_text):
    """Every cell of the classic, rolling and bracket tables is its row of retention_measures.parquet.

    "new users" is the group's users eligible at its first measured day; the "all users" row is
    the summary's retention.
    """
    measures = pd.read_parquet(run_folder / "retention_measures.parquet")
    measures = measures[measures["by"] != "cohort_week"]
    summary = json.loads((run_folder / "summary.json").read_text())["analytics"]["retention"]

    def label(by: str, group: str) -> str:
        return "all users" if by == "all" else f"{by}: {group}"

    captions = {"classic": "Classic D_N: active on exactly day N", "rolling": "Rolling D_N: active on day N or later"}
    for measure, caption in captions.items():
        shown = _measure_table(page_text, caption)
        rows = measures[measures["measure"] == measure]
        assert set(shown) == {label(by, group) for by, group in zip(rows["by"], rows["group"], strict=True)}
        for r in rows.itertuples():
            assert shown[label(r.by, r.group)][f"D{r.day_n}"] == pytest.approx(r.share, rel=1e-15, nan_ok=True), r
        for (by, group), first in rows.groupby(["by", "group"], sort=False).first().iterrows():
            assert shown[label(by, group)]["new users"] == first["users"]
        overall = {day: share for day, share in shown["all users"].items() if day != "new users"}
        assert overall == pytest.approx({f"D{day[1:]}": share for day, share in summary[measure].items()})
    shown = _measure_table(page_text, "Bracket retention: active at least once in days a–b")
    for r in measures[measures["measure"] == "bracket"].itertuples():
        assert shown[label(r.by, r.group)][f"days {r.day_n}–{r.day_hi}"] == pytest.approx(r.share, rel=1e-15), r


@pytest.mark.parametrize("directory", ["", "   "])
def test_an_empty_or_blank_folder_is_refused_before_anything_is_written(directory, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("my: own\n")  # the user's own file in the working directory
    result = simulate([*SMALL, "record_events=false", "figures=false"])
    with pytest.raises(ValueError, match=r"directory='\s*' is not allowed: a folder to write the result into"):
        result.save(directory)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]
    assert (tmp_path / "config.yaml").read_text() == "my: own\n"
    result.save(tmp_path / "x")  # the other side: a real folder is written
    assert (tmp_path / "x" / "DONE.json").is_file()
