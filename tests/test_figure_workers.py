"""Figures drawn in worker processes are the figures drawn in the caller, byte for byte."""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import load_config, simulate
from sim.output import run_report
from sim.output.figure_workers import FIGURE_WEIGHTS, FigureWorkers, draw_pngs, heaviest_first


def test_figures_go_to_the_workers_heaviest_first(monkeypatch):
    """By FIGURE_WEIGHTS: heatmap 1.9, stages and groups 1.8, growth 1.4, retention 1.0 (not listed: the
    default weight), funnel 0.9; figures of equal weight keep their order."""
    names = ["retention", "retention_groups", "cohort_heatmap", "growth", "funnel", "stages"]
    assert heaviest_first(names) == ["cohort_heatmap", "retention_groups", "stages", "growth", "retention", "funnel"]
    assert heaviest_first(["stages", "retention_groups"]) == ["stages", "retention_groups"]
    assert heaviest_first(["payback", "retention"]) == ["payback", "retention"]  # both 1.0
    assert heaviest_first(["retention", "payback"]) == ["retention", "payback"]
    monkeypatch.setitem(FIGURE_WEIGHTS, "retention", 1.01)
    assert heaviest_first(["payback", "retention"]) == ["retention", "payback"]
    assert heaviest_first([]) == []


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    cfg = load_config(["strategy=paid_growth", "population.market_size=20000", "horizon_days=60", "progress=false"])
    return simulate(cfg).save(tmp_path_factory.mktemp("run"), figures=False)


def test_workers_draw_the_same_png_bytes_as_the_caller(folder):
    data = run_report.load_folder(folder)
    here = run_report.figures(data)
    assert {"cohort_heatmap", "vs_baseline", "spend_response", "payback"} <= set(here)
    with FigureWorkers(2) as workers:
        there = run_report.figures(data, workers)
    assert list(there) == list(here)  # report order
    assert there == here


def test_a_closed_pool_draws_in_the_caller(folder):
    workers = FigureWorkers(1)
    workers.close()
    data = run_report.load_folder(folder)
    assert workers.draw(data, ["funnel"]) is None
    assert run_report.figures(data, workers) == run_report.figures(data)


def _counting_submits(workers: FigureWorkers) -> list[list[str]]:
    """The figures of each task given to the workers from now on (the pool's submit, wrapped)."""
    workers._starting.join()
    given: list[list[str]] = []
    submit = workers._pool.submit

    def counted(task, data, names):
        given.append(list(names))
        return submit(task, data, names)

    workers._pool.submit = counted
    return given


def test_started_figures_are_collected_not_drawn_again(folder):
    """start() gives the workers one figure a task, heaviest first; draw() then only collects them."""
    data = run_report.load_folder(folder)
    names = run_report.figure_names(data)
    here = run_report.figures(data)
    with FigureWorkers(2) as workers:
        given = _counting_submits(workers)
        workers.start(data, names)
        workers.start(data, names)  # already started from this data: nothing more
        assert given == [[name] for name in heaviest_first(names)]
        drawn = workers.draw(data, names)
        assert len(given) == len(names)
        assert drawn == {name: png for name, (_caption, png) in here.items()}
        assert workers.draw(data, ["funnel"]) == {"funnel": here["funnel"][1]}  # collected ones are not kept
        assert given[-1] == ["funnel"] and len(given) == len(names) + 1


def test_a_figure_started_from_other_data_is_used_only_where_its_inputs_are_the_same(folder):
    """Other data, same inputs of the figure (a summary key no figure reads): used. Another title: drawn again."""
    data = run_report.load_folder(folder)
    here = run_report.figures(data)
    same_inputs = replace(data, summary={**data.summary, "note": "not drawn"})
    other_title = replace(data, meta={**data.meta, "seed": data.meta["seed"] + 1})
    assert run_report.draw_figure(other_title, "stages") is not None
    with FigureWorkers(2) as workers:
        given = _counting_submits(workers)
        workers.start(same_inputs, ["stages", "funnel"])
        workers.start(other_title, ["retention"])
        assert given == [["stages"], ["retention"], ["funnel"]] or given == [["stages"], ["funnel"], ["retention"]]
        drawn = workers.draw(data, ["retention", "stages", "funnel"])
        assert given[3:] == [["retention"]]  # only the one whose title differs, drawn again from ``data``
        assert drawn == {name: here[name][1] for name in ["retention", "stages", "funnel"]}
    with FigureWorkers(1) as workers:
        workers.start(other_title, ["retention"])
        assert workers.draw(other_title, ["retention"])["retention"] != here["retention"][1]  # the title is drawn


def test_figures_started_and_not_asked_for_are_cancelled_if_no_worker_has_taken_them(folder):
    """One worker: the pool hands it one figure and queues one more; the others wait, and are cancelled when
    draw() does not ask for them (it returns without waiting for them)."""
    data = run_report.load_folder(folder)
    names = ["cohort_heatmap", "stages", "retention_groups", "growth", "funnel"]
    with FigureWorkers(1) as workers:
        workers._starting.join()
        submit, futures = workers._pool.submit, {}

        def kept(task, part, figure):
            futures[figure[0]] = submit(task, part, figure)
            return futures[figure[0]]

        workers._pool.submit = kept
        workers.start(data, names)
        assert set(workers.draw(data, ["cohort_heatmap"])) == {"cohort_heatmap"}
        dropped = [futures[name] for name in names[1:]]
        assert sum(f.cancelled() for f in dropped) >= 2  # at most two were handed over (worker and queue)
        assert all(f.cancelled() or f.done() or f.running() for f in dropped)


def test_figures_started_and_not_asked_for_are_dropped(folder):
    data = run_report.load_folder(folder)
    with FigureWorkers(1) as workers:
        given = _counting_submits(workers)
        workers.start(data, ["cohort_heatmap", "funnel"])
        assert set(workers.draw(data, ["funnel"])) == {"funnel"}
        assert workers._drawing == {}
        workers.draw(data, ["cohort_heatmap"])
        assert given[-1] == ["cohort_heatmap"] and len(given) == 3  # drawn again: the first was dropped


#: Figures whose titles do not name the run (so another seed leaves them the same).
UNTITLED_FIGURES = ("vs_baseline", "payback", "spend_response")


@pytest.mark.parametrize("name", list(run_report.FIGURE_CAPTIONS))
def test_same_figure_compares_what_the_figure_is_drawn_from(folder, name):
    """Equal inputs (copies, other summary keys) are the same figure; another run title is not, where it is drawn."""
    data = run_report.load_folder(folder)
    assert run_report.figure_names(data) == list(run_report.FIGURE_CAPTIONS)  # a run with every figure
    copy = pickle.loads(pickle.dumps(data))
    assert run_report.same_figure(data, data, name)
    assert run_report.same_figure(data, copy, name)
    assert run_report.same_figure(data, replace(copy, summary={**copy.summary, "note": 1}), name)
    other_seed = replace(copy, meta={**copy.meta, "seed": -1})
    assert run_report.same_figure(data, other_seed, name) is (name in UNTITLED_FIGURES)


def test_the_retention_figure_of_a_run_with_a_baseline_overlays_it(folder):
    data = run_report.load_folder(folder)
    assert data.baseline_cohorts is not None
    labels = [t.get_text() for t in run_report.draw_figure(data, "retention").axes[0].get_legend().get_texts()]
    assert any(label.startswith("organic baseline") for label in labels)
    alone = replace(data, baseline_cohorts=None)
    labels = [t.get_text() for t in run_report.draw_figure(alone, "retention").axes[0].get_legend().get_texts()]
    assert not any("baseline" in label for label in labels)
    assert not run_report.same_figure(data, alone, "retention")


def test_same_figure_is_false_for_a_figure_one_of_the_two_has_no_data_for(folder):
    data = run_report.load_folder(folder)
    no_tables = replace(data, tables={})
    assert "growth" not in run_report.figure_names(no_tables)
    assert not run_report.same_figure(data, no_tables, "growth")
    assert not run_report.same_figure(no_tables, data, "growth")
    assert run_report.same_figure(data, no_tables, "stages")


def test_same_figure_sees_one_changed_value_of_a_table_it_draws():
    frame = pd.DataFrame({"day": np.arange(3), "dau": [1.0, np.nan, 3.0]})
    other = frame.copy()
    assert run_report._equal(frame, other)  # NaN equals NaN
    other.loc[2, "dau"] = 3.0000001
    assert not run_report._equal(frame, other)
    assert not run_report._equal(frame, frame.astype({"dau": "float32"}))  # another dtype
    assert not run_report._equal(frame, frame[["dau", "day"]])  # other column order
    assert run_report._equal((np.array([1.0, np.nan]), "t"), (np.array([1.0, np.nan]), "t"))
    assert not run_report._equal((np.array([1.0, 2.0]), "t"), (np.array([1.0, 2.0]), "u"))
    assert not run_report._equal(np.array([1, 2]), np.array([1.0, 2.0]))  # int and float arrays
    assert not run_report._equal(1, 1.0) and not run_report._equal(None, 0)
    assert run_report._equal({"a": float("nan"), "b": 2}, {"a": float("nan"), "b": 2})
    assert not run_report._equal({"a": 1}, {"a": 1, "b": 2})
    assert not run_report._equal([1, 2], [1, 2, 3])


def test_the_fork_server_is_started_deaf_to_ctrl_c_from_the_main_thread_only(monkeypatch):
    """Main thread: preload set, server spawned while Ctrl-C is ignored, the handler restored. Other threads: preload only."""
    import threading
    import types

    from sim.output import figure_workers

    calls = []
    server = types.SimpleNamespace(
        set_forkserver_preload=lambda modules: calls.append(("preload", tuple(modules))),
        ensure_running=lambda: calls.append(("spawned", signal.getsignal(signal.SIGINT))),
    )
    monkeypatch.setattr(figure_workers, "forkserver", server)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)  # a pytest-xdist worker ignores Ctrl-C
    try:
        figure_workers._start_fork_server()
        after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert calls == [("preload", figure_workers.PRELOADED_MODULES), ("spawned", signal.SIG_IGN)]
    assert after is signal.default_int_handler
    calls.clear()
    errors = []
    thread = threading.Thread(target=lambda: errors.append(figure_workers._start_fork_server()))
    thread.start()
    thread.join()
    assert errors == [None] and calls == [("preload", figure_workers.PRELOADED_MODULES)]


def test_workers_that_could_not_start_leave_the_drawing_to_the_caller(folder, monkeypatch):
    """Workers that fail to start (in the starting thread): draw answers None, and the pool is shut down."""
    from sim.output import figure_workers

    closed = []

    class BrokenAtStart:
        def __init__(self, max_workers, mp_context, initializer):
            pass

        def submit(self, task, *args):
            raise OSError("the fork server is gone")

        def shutdown(self, wait, cancel_futures):
            closed.append(True)

    monkeypatch.setattr(figure_workers, "ProcessPoolExecutor", BrokenAtStart)
    monkeypatch.setattr(figure_workers, "_start_fork_server", lambda: None)
    workers = FigureWorkers(2)
    assert workers._started == []
    assert workers.draw(run_report.load_folder(folder), ["funnel"]) is None
    assert closed == [True]
    workers.close()  # closing again does nothing more
    assert closed == [True]


def test_a_workers_drawing_is_the_callers_png_bytes(folder):
    """What each worker runs, run here: the same bytes as the caller's own drawing."""
    data = run_report.load_folder(folder)
    here = run_report.figures(data)
    names = ["cohort_heatmap", "funnel", "retention"]
    assert set(names) <= set(here)
    assert draw_pngs(pickle.loads(pickle.dumps(data)), names) == {name: here[name][1] for name in names}


def test_each_figure_is_drawn_from_the_part_of_the_data_a_worker_is_sent(folder):
    """Without the retention curve a worker is sent no cohort tables, and every figure is the same PNG."""
    data = run_report.load_folder(folder)
    here = run_report.figures(data)
    assert data.baseline_cohorts is not None and len(data.cohorts) > 0
    for name in here:
        part = run_report.figure_data(data, [name])
        if name in run_report.COHORT_FIGURES:
            assert part is data
        else:
            assert len(part.cohorts) == 0 and list(part.cohorts.columns) == list(data.cohorts.columns)
            assert part.baseline_cohorts is None
            assert part.daily is data.daily and part.tables is data.tables and part.summary is data.summary
        assert draw_pngs(pickle.loads(pickle.dumps(part)), [name]) == {name: here[name][1]}
    assert run_report.figure_data(data, ["funnel", "retention"]) is data
    assert len(pickle.dumps(run_report.figure_data(data, ["funnel"]))) < len(pickle.dumps(data))


@pytest.mark.parametrize("enabled_before", [True, False])
def test_the_garbage_collector_is_left_as_it_was_when_a_drawing_fails(monkeypatch, enabled_before):
    import gc

    def failing(data, name):
        assert not gc.isenabled()
        raise RuntimeError("no such data")

    monkeypatch.setattr(run_report, "draw_figure", failing)
    (gc.enable if enabled_before else gc.disable)()
    try:
        with pytest.raises(RuntimeError, match="no such data"):
            draw_pngs(None, ["funnel"])
        after = gc.isenabled()
    finally:
        gc.enable()
    assert after is enabled_before


@pytest.mark.parametrize(("cores", "workers"), [(8, 3), (3, 3), (2, 2), (1, 1), (None, 1)])
def test_workers_default_to_one_a_core_and_at_most_three(monkeypatch, cores, workers):
    from sim.output import figure_workers

    class NoProcesses:  # stands in for the pool: no process is started
        def __init__(self, max_workers, mp_context, initializer):
            self.max_workers = max_workers

        def submit(self, task):
            return None

        def shutdown(self, wait, cancel_futures):
            pass

    monkeypatch.setattr(figure_workers, "ProcessPoolExecutor", NoProcesses)
    monkeypatch.setattr(figure_workers, "_start_fork_server", lambda: None)
    monkeypatch.setattr(figure_workers.os, "cpu_count", lambda: cores)
    with FigureWorkers() as pool:
        assert pool.processes == workers == pool._pool.max_workers
        assert len(pool._started) == workers


def test_a_worker_start_ignores_ctrl_c_imports_the_drawing_code_and_draws_once():
    """In a fresh process, as a worker starts: nothing of this test session is imported there."""
    import subprocess

    code = (
        "import signal, sys\n"
        "import matplotlib.font_manager as fm\n"
        "from sim.output.figure_workers import _prepare\n"
        "_prepare()\n"
        "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)\n"
        "print(sorted(m for m in ('sim.output.run_report', 'sim.output.figures', 'pyarrow') if m in sys.modules))\n"
        "print(fm._get_font.cache_info().currsize)\n"
        "import gc\n"
        "print(gc.get_freeze_count(), len(gc.get_objects()), gc.isenabled())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    ignores, modules, fonts, collector = done.stdout.splitlines()
    assert ignores == "True"
    assert modules == str(["pyarrow", "sim.output.figures", "sim.output.run_report"])
    assert int(fonts) >= 2  # fonts are loaded only to draw text: the warm-up drew regular and bold text
    frozen, tracked, enabled = collector.split()
    # what the imports made is frozen: the collector still tracks only what came after (a few objects)
    assert int(frozen) > 50_000 and int(tracked) < 1_000 and enabled == "True"


@pytest.mark.parametrize("enabled_before", [True, False])
def test_the_garbage_collector_is_paused_while_figures_are_drawn_and_left_as_it_was(
    folder, monkeypatch, enabled_before
):
    import gc

    from sim.output import figures as plots

    seen = []
    save_png_of = plots.save_png_of

    def recording(build, target):
        seen.append(gc.isenabled())
        save_png_of(build, target)

    monkeypatch.setattr(plots, "save_png_of", recording)
    data = run_report.load_folder(folder)
    (gc.enable if enabled_before else gc.disable)()
    try:
        drawn = draw_pngs(data, ["funnel", "growth"])
        after = gc.isenabled()
    finally:
        gc.enable()
    assert seen == [False, False]
    assert after is enabled_before
    assert set(drawn) == {"funnel", "growth"}


def _parent(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    raise AssertionError(f"no PPid for {pid}")


@pytest.mark.skipif(
    not Path("/proc/self/status").exists() or "forkserver" not in multiprocessing.get_all_start_methods(),
    reason="needs /proc and the forkserver start method",
)
def test_workers_come_from_a_fork_server_not_the_caller_and_survive_ctrl_c(folder):
    """Never forked from the caller (which may hold threads), nor spawned by it where a fork server exists."""
    with FigureWorkers(2) as workers:
        pids = {started.result(timeout=120) for started in workers._started}
        assert os.getpid() not in {_parent(pid) for pid in pids}
        for pid in pids:
            os.kill(pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        drawn = workers.draw(run_report.load_folder(folder), ["funnel"])
    here = run_report.figures(run_report.load_folder(folder))
    assert drawn == {"funnel": here["funnel"][1]}


@pytest.mark.skipif(
    not Path("/proc/self/status").exists() or "forkserver" not in multiprocessing.get_all_start_methods(),
    reason="needs /proc and the forkserver start method",
)
def test_the_fork_server_imports_the_drawing_code_once_and_a_ctrl_c_meanwhile_changes_nothing(tmp_path):
    """In a fresh process (the fork server is one a process): workers forked from a server that has matplotlib.

    Ctrl-C reaches the server while it imports (the caller has just started it): it
    ignores it, the workers start, no traceback. The caller imports no matplotlib, and
    takes Ctrl-C as before once the server is started.
    """
    import subprocess

    code = (
        "import os, signal, sys\n"
        "from multiprocessing import forkserver\n"
        "from sim.output.figure_workers import FigureWorkers\n"
        "if __name__ == '__main__':\n"
        "    signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever this process inherited (xdist: ignored)\n"
        "    workers = FigureWorkers(2)\n"
        "    print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n"
        "    server = forkserver._forkserver._forkserver_pid\n"
        "    os.kill(server, signal.SIGINT)\n"
        "    pids = [started.result(timeout=120) for started in workers._started]\n"
        "    maps = open(f'/proc/{server}/maps').read()\n"
        "    parents = {int(open(f'/proc/{pid}/status').read().split('PPid:')[1].split()[0]) for pid in pids}\n"
        "    print(len(pids), parents == {server}, 'ft2font' in maps, 'matplotlib' in sys.modules)\n"
        "    workers.close()\n"
    )
    script = tmp_path / "start.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=True)
    # the caller's Ctrl-C is its own again; two workers, forked from the server, which has matplotlib
    assert done.stdout.split() == ["True", "2", "True", "True", "False"]
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr


def test_a_report_whose_figures_workers_draw_never_imports_matplotlib_in_the_caller(folder, tmp_path):
    """`opsim` imports nothing of matplotlib before its run: the report after it need not either."""
    import shutil
    import subprocess

    copy = shutil.copytree(folder, tmp_path / "run")
    code = (
        "import sys\n"
        "from sim.output.figure_workers import FigureWorkers\n"
        "from sim.output.run_report import write_report_files\n"
        "if __name__ == '__main__':\n"
        "    with FigureWorkers(2) as workers:\n"
        f"        written = write_report_files({str(copy)!r}, workers=workers)\n"
        "    print(len(written), sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    script = tmp_path / "report.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=True)
    count, modules = done.stdout.split(" ", 1)
    assert modules.strip() == "[]"
    assert int(count) == len(run_report.figure_names(run_report.load_folder(copy))) + 1  # the PNGs and the page
    assert (copy / "report.html").exists() and (copy / "cohort_heatmap.png").stat().st_size > 0


class _Starts:
    """Stands in for FigureWorkers in simulate(): records what it is asked to start."""

    def __init__(self) -> None:
        self.started: list[tuple[run_report.FolderData, list[str]]] = []

    def start(self, data, names):
        self.started.append((data, list(names)))

    def draw(self, data, names):
        return None


def test_a_run_starts_its_figures_as_the_saved_result_has_them(tmp_path):
    """Stages and retention once the days are stepped; the rest once the analytics tables are computed, before
    the survival fits. Each from data whose figure is that of the saved result: used, not drawn again. A sampled
    market (N = 15,000 of M = 60,000), whose titles name both."""
    from sim.app.simulate import STEPPED_FIGURES

    overrides = ["population.market_size=60000", "population.sample_size=15000", "horizon_days=45", "progress=false"]
    starts = _Starts()
    result = simulate(overrides, figure_workers=starts)
    (early, first), (tabled, then) = starts.started
    assert first == list(STEPPED_FIGURES) == ["stages", "retention"]
    assert then == ["retention_groups", "cohort_heatmap", "growth", "funnel"]  # the report's other figures
    assert len(early.daily) == 45 and early.cohorts["cohort_size"].sum() > 0  # every day stepped
    assert "(15,000 simulated)" in early.title
    assert "rolling_retention_fit" in result.summary["analytics"]  # computed after the tables were ready
    final = result._files(tmp_path).data
    for name in first:
        assert run_report.same_figure(early, final, name), name
        assert run_report.same_figure(tabled, final, name), name
    for name in then:
        assert run_report.same_figure(tabled, final, name), name
    assert not run_report.same_figure(early, final, "growth")  # no analytics tables yet
    alone = simulate(overrides)
    assert json.dumps(alone.summary, sort_keys=True) == json.dumps(result.summary, sort_keys=True)  # NaN as NaN
    pd.testing.assert_frame_equal(alone.daily, result.daily)


@pytest.mark.parametrize(
    "overrides",
    [
        ["figures=false"],
        ["strategy=paid_growth", "economics.marginal_roi=false", "economics.spend_response_multipliers=[]"],
    ],
)
def test_a_run_without_figures_or_with_comparison_runs_starts_none(overrides):
    """No figures: nothing to draw. A baseline run: the days and the retention figure change after the main run."""
    starts = _Starts()
    simulate(["population.market_size=5000", "horizon_days=30", "progress=false", *overrides], figure_workers=starts)
    assert starts.started == []


def test_a_run_drawn_ahead_in_workers_saves_the_files_of_one_drawn_in_the_caller(tmp_path):
    """simulate() starts two figures, save() the rest: each drawn once, and the folder's files are the caller's."""
    overrides = ["population.market_size=20000", "horizon_days=40", "progress=false"]
    with FigureWorkers(2) as workers:
        given = _counting_submits(workers)
        ahead = simulate(overrides, figure_workers=workers).save(tmp_path / "ahead", figure_workers=workers)
    here = simulate(overrides).save(tmp_path / "here")
    pngs = sorted(p.name for p in here.glob("*.png"))
    assert len(pngs) == 6 and sorted(p.name for p in ahead.glob("*.png")) == pngs
    assert sorted(names[0] for names in given) == sorted(name.removesuffix(".png") for name in pngs)  # once each
    assert given == [["stages"], ["retention"], ["cohort_heatmap"], ["retention_groups"], ["growth"], ["funnel"]]
    for name in pngs:
        assert (ahead / name).read_bytes() == (here / name).read_bytes(), name
    page = (ahead / "report.html").read_text().replace(str(ahead), "FOLDER")  # the page names its folder
    assert page == (here / "report.html").read_text().replace(str(here), "FOLDER")


@pytest.mark.parametrize("outcome", ["started", "broken", "cancelled"])
def test_waiting_for_the_start_waits_for_every_worker_and_lets_a_broken_pool_be(monkeypatch, outcome):
    """wait_started returns once every worker's start task is done, whichever way it ended."""
    from concurrent.futures import Future

    from sim.output import figure_workers

    tasks: list[Future] = []

    class Pool:  # stands in for the pool: its start tasks are settled by the test
        def __init__(self, max_workers, mp_context, initializer):
            pass

        def submit(self, task):
            tasks.append(Future())
            return tasks[-1]

        def shutdown(self, wait, cancel_futures):
            pass

    monkeypatch.setattr(figure_workers, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(figure_workers, "_start_fork_server", lambda: None)
    with FigureWorkers(processes=2) as pool:
        pool._starting.join()
        waiting = threading.Thread(target=pool.wait_started)
        waiting.start()
        waiting.join(0.2)
        assert waiting.is_alive()  # nothing settled yet
        tasks[0].set_result(1)
        waiting.join(0.2)
        assert waiting.is_alive()  # one worker still starting
        if outcome == "started":
            tasks[1].set_result(2)
        elif outcome == "broken":
            tasks[1].set_exception(BrokenProcessPool("a worker died"))
        else:
            tasks[1].cancel()
        waiting.join(5)
        assert not waiting.is_alive()
