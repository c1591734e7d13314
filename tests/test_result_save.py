"""Saving a result: which files a save into a used folder removes, what it writes and what the report is drawn from."""

from __future__ import annotations

import json

from sim.output.result import remove_result_files, result_file_names
from sim.output.run_report import FIGURE_CAPTIONS

TABLES = (
    "daily",
    "cohorts",
    "retention_measures",
    "growth_daily",
    "growth_weekly",
    "cohort_triangle_weekly",
    "baseline_cohorts",
    "spend_response",
)


def test_result_file_names_are_exactly_the_files_a_save_may_write():
    """No more: any other name listed would be removed from a user's folder by the next save into it."""
    expected = (
        {"config.yaml", "meta.json", "summary.json", "report.html"}
        | {f"{name}.parquet" for name in TABLES}
        | {f"{name}.png" for name in FIGURE_CAPTIONS}
    )
    assert result_file_names() == expected


def test_remove_result_files_keeps_a_users_files_of_the_same_kinds(tmp_path):
    own = ["extra.parquet", "notes.png", "meta.yaml", "daily.csv", "summary.json.bak"]
    for name in [*own, "daily.parquet", "retention.png"]:
        (tmp_path / name).write_text("x")
    removed = remove_result_files(tmp_path)
    assert sorted(p.name for p in removed) == ["daily.parquet", "retention.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(own)


def test_save_has_the_figures_drawn_by_the_workers_it_is_given(tmp_path, small_preset):
    """``figure_workers`` are started on every figure before the tables are written, then asked for them
    with the same data; their PNG bytes are the files."""
    from sim import simulate

    class Drawer:
        def __init__(self):
            self.calls = []

        def start(self, data, names):
            self.calls.append(("start", data, list(names), (data.path / "daily.parquet").read_bytes()[:4]))

        def draw(self, data, names):
            self.calls.append(("draw", data, list(names), (data.path / "daily.parquet").read_bytes()[:4]))
            return {name: f"png of {name}".encode() for name in names}

    result = simulate(small_preset("ecommerce", market_size=2_000, days=21))
    drawer = Drawer()
    out = tmp_path / "r"
    out.mkdir()
    (out / "daily.parquet").write_text("an earlier run's table")  # removed before the new one is written
    assert result.save(out, figures=True, figure_workers=drawer) == out
    (started, data, names, table_then), (drawn, same_data, same_names, table_after) = drawer.calls
    assert (started, drawn) == ("start", "draw") and same_data is data and same_names == names
    assert (table_then, table_after) == (b"an e", b"PAR1")  # started before the tables were written
    assert data.path == out
    assert data.summary["acquired_users"] == json.loads((out / "summary.json").read_text())["acquired_users"] > 0
    assert names and all((out / f"{name}.png").read_bytes() == f"png of {name}".encode() for name in names)


def test_the_completion_marker_records_the_runs_wall_seconds(tmp_path, small_preset):
    from sim import simulate
    from sim.output.completion import read_marker

    result = simulate(small_preset("ecommerce", market_size=2_000, days=21))
    assert result.meta["wall_seconds"] > 0
    out = result.save(tmp_path / "r", figures=False)
    assert read_marker(out)["seconds"] == result.meta["wall_seconds"]


def test_save_creates_missing_parent_folders(tmp_path, small_preset):
    from sim import simulate

    result = simulate(small_preset("ecommerce", market_size=2_000, days=21))
    out = result.save(tmp_path / "a" / "b" / "run", figures=False)
    assert out == tmp_path / "a" / "b" / "run" and (out / "DONE.json").is_file()


def test_config_yaml_and_meta_json_hold_the_config_in_order_unicode_as_it_is_and_the_seed(tmp_path):
    import dataclasses

    import numpy as np
    import pandas as pd
    import yaml

    from sim.output.result import Result

    @dataclasses.dataclass
    class Config:
        seed: int = 7
        figures: bool = False
        title: str = "Café ± 5 %"
        zeta: int = 1
        alpha: int = 2

    daily = pd.DataFrame({"day": [0, 1], "dau": [1.0, 2.0]})
    result = Result(Config(), daily, np.array([[2, 1], [0, 0]]), {"n": 1}, meta={"wall_seconds": 0.5})
    out = result.save(tmp_path / "r")
    text = (out / "config.yaml").read_text(encoding="utf-8")
    assert "Café ± 5 %" in text  # as written, not escaped
    loaded = yaml.safe_load(text)
    assert list(loaded.items()) == list(dataclasses.asdict(Config()).items())  # the config's own order
    meta = json.loads((out / "meta.json").read_text())
    assert meta["seed"] == 7 and meta["wall_seconds"] == 0.5
    assert meta["versions"]["python"] and "numpy" in meta["versions"]


def test_config_yaml_is_the_text_of_the_pure_python_safe_dump(tmp_path, monkeypatch):
    """LibYAML's emitter, where it is used, writes what yaml.safe_dump writes: quotes, unicode, long text, floats, tuples."""
    import dataclasses

    import numpy as np
    import pandas as pd
    import yaml

    from sim import load_config
    from sim.output.result import Result

    cfg = load_config(["strategy=balanced_mix", "economics.margin=1e-07", "figures=false"])
    name = 'Café "±" 测试: ' + "word " * 40
    pattern = tuple(cfg.population.weekly_visit_pattern)  # a tuple: the unsafe dumpers write !!python/tuple
    cfg = dataclasses.replace(
        cfg, population=dataclasses.replace(cfg.population, name=name, weekly_visit_pattern=pattern)
    )
    daily = pd.DataFrame({"day": [0], "dau": [1.0]})
    out = Result(cfg, daily, np.zeros((1, 1)), {"n": 1}, meta={}).save(tmp_path / "r")
    expected = yaml.dump(dataclasses.asdict(cfg), Dumper=yaml.SafeDumper, sort_keys=False, allow_unicode=True)
    assert "!!python" not in expected and yaml.safe_load(expected)["population"]["weekly_visit_pattern"] == list(
        pattern
    )
    assert (out / "config.yaml").read_text(encoding="utf-8") == expected
    monkeypatch.delattr(yaml, "CSafeDumper", raising=False)  # PyYAML built without LibYAML: the pure-Python dumper
    again = Result(cfg, daily, np.zeros((1, 1)), {"n": 1}, meta={}).save(tmp_path / "pure")
    assert (again / "config.yaml").read_text(encoding="utf-8") == expected


def test_parquet_tables_hold_only_the_frames_columns(tmp_path, small_preset):
    """No index column: other readers (pyarrow, DuckDB, polars) see the frame's columns and nothing else."""
    import pyarrow.parquet as pq

    from sim import simulate

    result = simulate(small_preset("ecommerce", market_size=2_000, days=21))
    out = result.save(tmp_path / "r", figures=False)
    frames = {"daily": result.daily, "cohorts": result.cohorts, **result.tables}
    for name, frame in frames.items():
        assert pq.read_schema(out / f"{name}.parquet").names == list(frame.columns), name


def test_a_folder_that_cannot_be_created_raises_output_error_naming_it(tmp_path):
    import dataclasses
    import errno
    import os

    import numpy as np
    import pandas as pd
    import pytest

    from sim.base.errors import OutputError
    from sim.output.result import Result

    @dataclasses.dataclass
    class Config:
        seed: int = 0
        figures: bool = False

    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "run"  # its parent is a file
    result = Result(Config(), pd.DataFrame({"day": [0]}), np.array([[1]]), {})
    with pytest.raises(OutputError) as info:
        result.save(out)
    err = info.value
    assert (err.path, err.reason, err.errno) == (out, os.strerror(errno.ENOTDIR), errno.ENOTDIR)
    assert str(err) == f"cannot write {out}: {os.strerror(errno.ENOTDIR)}"


def test_the_data_save_draws_its_report_from_is_what_the_folder_reads_back(tmp_path):
    """``Result._files`` holds the folder's content as ``load_folder`` reads it once ``_write_data`` wrote it
    (a run with levers and paid ads)."""
    import dataclasses
    import time

    import pandas as pd

    from sim import simulate
    from sim.output.run_report import load_folder

    result = simulate(
        [
            "strategy=paid_growth",
            "population.market_size=3000",
            "horizon_days=28",
            "progress=false",
            "economics.spend_response_multipliers=[2.0]",
        ]
    )
    assert result.baseline_cohort_active is not None and result.spend_response is not None
    out = tmp_path / "r"
    files = result._files(out)
    data = files.data
    assert not out.exists()  # nothing written yet
    names = result._write_data(out, files)
    back = load_folder(out)
    assert sorted(names) == sorted(p.name for p in out.iterdir())
    assert data.path == back.path == out
    assert json.dumps(data.summary, sort_keys=True) == json.dumps(back.summary, sort_keys=True)
    assert data.meta == back.meta and data.meta["seed"] == result.config.seed
    assert data.config_text == back.config_text
    pd.testing.assert_frame_equal(data.daily, back.daily)
    pd.testing.assert_frame_equal(data.cohorts, back.cohorts)
    pd.testing.assert_frame_equal(data.baseline_cohorts, back.baseline_cohorts)
    assert list(data.tables) == list(back.tables) and "spend_response" in data.tables
    for name, frame in data.tables.items():
        pd.testing.assert_frame_equal(frame, back.tables[name], obj=name)
    assert result.save_seconds == {}  # _files and _write_data are only parts of save
    again = dataclasses.replace(result)
    started = time.perf_counter()
    again.save(tmp_path / "whole", figures=False)
    took = time.perf_counter() - started
    assert set(again.save_seconds) == {"data", "report", "marker"} and min(again.save_seconds.values()) >= 0
    assert sum(again.save_seconds.values()) <= took  # spans of the save, one after another
    # its timings are not part of what a result is (compared field by field: DataFrames cannot be, on 3.13)
    assert [f.name for f in dataclasses.fields(again) if not f.compare] == ["save_seconds"]


def test_the_baseline_cohort_table_is_in_real_users_like_the_runs_own(tmp_path):
    import dataclasses

    import numpy as np
    import pandas as pd

    from sim.analysis.retention import cohort_table
    from sim.output.result import Result

    @dataclasses.dataclass
    class Config:
        seed: int = 0
        figures: bool = False

    active = np.array([[4, 2, 1], [6, 3, 0], [0, 0, 0]])
    baseline = np.array([[3, 1, 1], [5, 2, 0], [2, 0, 0]])
    daily = pd.DataFrame({"day": [0, 1, 2]})
    result = Result(Config(), daily, active, {}, user_weight=2.5, baseline_cohort_active=baseline)
    out = result.save(tmp_path / "r")
    written = pd.read_parquet(out / "baseline_cohorts.parquet")
    pd.testing.assert_frame_equal(written, cohort_table(baseline, 2.5))
    assert written.cohort_size.iloc[0] == 2.5 * 3  # real users: simulated ones times the user weight
    pd.testing.assert_frame_equal(pd.read_parquet(out / "cohorts.parquet"), cohort_table(active, 2.5))


def test_a_runs_json_files_are_strict_json_a_number_it_cannot_give_null_and_the_report_shows_a_dash(tmp_path):
    """D30 of a 20-day run and the ROI of a run without cost were written as ``NaN``, which ``JSON.parse`` refuses."""
    import math
    import re

    from sim import simulate
    from sim.output.run_report import write_report
    from tests.conftest import json_files_below

    result = simulate(["population.market_size=3000", "horizon_days=20", "progress=false"])
    assert math.isnan(result.summary["retention"]["d30"]) and math.isnan(result.summary["economics"]["roi"])
    out = tmp_path / "r"
    result.save(out, figures=False)
    files = json_files_below(out)  # raises on NaN or Infinity
    assert set(files) == {"summary.json", "meta.json", "DONE.json"}
    summary = files["summary.json"]
    assert summary["retention"]["d30"] is None and summary["economics"]["roi"] is None
    assert summary["retention"]["d1"] == result.summary["retention"]["d1"] > 0  # a number it has stays
    page = write_report(out, pngs=False).read_text(encoding="utf-8")
    row = re.search(r"classic D30</th>(.*?)</tr>", page, re.S)
    assert row is not None and "—" in row.group(1) and "nan" not in row.group(1).lower()
