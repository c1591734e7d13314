"""Figures drawn in worker processes are the figures drawn in the caller, byte for byte."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import random
import signal
import sys
from pathlib import Path

import pytest

from sim import load_config, simulate
from sim.output import run_report
from sim.output.figure_workers import FIGURE_WEIGHTS, MAX_SEARCHED_FIGURES, FigureWorkers, draw_pngs, share_out


def test_shares_of_a_default_runs_figures_are_the_lightest_split():
    names = ["retention", "retention_groups", "cohort_heatmap", "growth", "funnel", "stages"]
    shares = share_out(names, 2)
    # weights 2.4 heatmap, 1.8 stages, 1.7 groups, 1.5 growth, 1.0 retention, 0.8 funnel: 9.2 in all. An even
    # split needs a list of 4.6, and no sum of the weights is 4.6 (with the heatmap the rest would be 2.2,
    # where the nearest sums are 1.8 and 2.3; without it, two of the others make at most 3.5, three 5.0 or
    # at most 4.5 below that, four 5.0 or more), so the lightest heaviest list is 4.7: heatmap + growth +
    # funnel | stages + groups + retention = 4.5 (greedy's too).
    assert shares == [["cohort_heatmap", "growth", "funnel"], ["stages", "retention_groups", "retention"]]
    # three lists: one below 3.2 would hold the heatmap alone (with the lightest figure, 0.8, it makes 3.2),
    # leaving 6.8 for two lists of at most 3.1
    assert share_out(names, 3) == [
        ["cohort_heatmap", "funnel"],
        ["stages", "retention"],
        ["retention_groups", "growth"],
    ]
    assert share_out(["funnel"], 3) == [["funnel"]]  # no empty shares
    assert share_out(names, 1) == [["cohort_heatmap", "stages", "retention_groups", "growth", "retention", "funnel"]]
    assert share_out([], 2) == []


def test_shares_of_a_reports_nine_figures_are_the_lightest_split():
    """Every figure a report can have (levers and paid ads): searched, not split greedily.

    Weights 2.4 heatmap, 1.8 stages, 1.7 groups, 1.6 vs_baseline, 1.5 growth, 1.4 spend_response,
    1.0 payback and retention (the default weight), 0.8 funnel: 13.2 in all, split 6.6 | 6.6;
    greedy, each onto the lighter list, would give 6.8 | 6.4.
    """
    shares = share_out(list(run_report.FIGURE_CAPTIONS), 2)
    assert shares == [
        ["cohort_heatmap", "stages", "spend_response", "payback"],
        ["retention_groups", "vs_baseline", "growth", "retention", "funnel"],
    ]
    loads = [sum(FIGURE_WEIGHTS.get(name, 1.0) for name in share) for share in shares]
    assert loads == pytest.approx([6.6, 6.6])


def test_shares_beat_the_greedy_split_where_it_is_not_the_lightest(monkeypatch):
    """3, 3, 2, 2, 2 into two: greedy gives 3 + 2 + 2 = 7 | 5, the lightest split 3 + 3 | 2 + 2 + 2 = 6 | 6."""
    for name, weight in {"a": 3.0, "b": 3.0, "c": 2.0, "d": 2.0, "e": 2.0}.items():
        monkeypatch.setitem(FIGURE_WEIGHTS, name, weight)
    assert share_out(["c", "a", "d", "b", "e"], 2) == [["a", "b"], ["c", "d", "e"]]


def test_shares_keep_the_greedy_split_where_it_is_already_the_lightest(monkeypatch):
    """Another split as light as the greedy one does not replace it (only a strictly lighter one does).

    1, 1, 1 into two: greedy puts x and y on separate lists and z on the first, 2 | 1, and three
    figures in two lists always leave two in one, so 2 is the lightest; x + y | z is as light.
    3, 2, 2, 1, 1 into two: greedy gives a + d + e = 5 | b + c = 4 (d onto the lighter 3 | 4, e onto
    the first of 4 | 4), and 9 in whole numbers cannot split lighter than 5 | 4; a + b | c + d + e
    and a + e | b + c + d are as light.
    """
    for name, weight in {"x": 1.0, "y": 1.0, "z": 1.0, "a": 3.0, "b": 2.0, "c": 2.0, "d": 1.0, "e": 1.0}.items():
        monkeypatch.setitem(FIGURE_WEIGHTS, name, weight)
    assert share_out(["x", "y", "z"], 2) == [["x", "z"], ["y"]]
    assert share_out(["a", "b", "c", "d", "e"], 2) == [["a", "d", "e"], ["b", "c"]]


def test_shares_keep_the_first_lightest_split_the_search_finds(monkeypatch):
    """8, 7, 7, 4, 4, 4, 4 into three: no list can weigh 13 (no subset adds up to it), so 14 is the lightest
    heaviest list, and several splits reach it. The search places the heaviest figure first, each onto
    the lists in order, so the first it finds is a + d | b + c | e + f + g (12 | 14 | 12); the others as
    light (such as a + f | b + c | d + e + g) are cut off before they are complete, as no better."""
    for name, weight in zip("abcdefg", [8.0, 7.0, 7.0, 4.0, 4.0, 4.0, 4.0], strict=True):
        monkeypatch.setitem(FIGURE_WEIGHTS, name, weight)
    assert share_out(list("abcdefg"), 3) == [["a", "d"], ["b", "c"], ["e", "f", "g"]]


def test_shares_of_more_figures_than_the_search_takes_are_greedy(monkeypatch):
    """3, 3, 2, 2, 2 and tiny figures (0.001 each) into two: greedy puts a, c, e on one list (7) and b, d
    and every tiny one on the other (5 + the tiny ones); the search finds a + b + some tiny | c + d + e
    + the others (6.00x | 6.00x). Up to MAX_SEARCHED_FIGURES figures it searches, one more and it is greedy."""
    big = {"a": 3.0, "b": 3.0, "c": 2.0, "d": 2.0, "e": 2.0}
    tiny = [f"t{i:02d}" for i in range(MAX_SEARCHED_FIGURES + 1 - len(big))]
    for name, weight in {**big, **dict.fromkeys(tiny, 0.001)}.items():
        monkeypatch.setitem(FIGURE_WEIGHTS, name, weight)
    searched = share_out([*big, *tiny[:-1]], 2)
    assert max(sum(FIGURE_WEIGHTS[n] for n in share) for share in searched) < 6.01
    assert share_out([*big, *tiny], 2) == [["a", "c", "e"], ["b", "d", *tiny]]


def test_shares_are_in_order_of_their_heaviest_figure(monkeypatch):
    """Lists of equal load are interchangeable, so an empty list is only opened after every list before it.

    Each share's first (heaviest) figure is then at least as heavy as the next share's. 8, 8, 8, 7, 6,
    6, 3 into three: 46 in all needs a share of at least 16 (3 x 15 = 45, whole numbers), which
    a + b | c + d | e + f + g = 16 | 15 | 15 reaches; as light, but out of order, is a + b | e + f + g | c + d.
    """
    weights = {"a": 8.0, "b": 8.0, "c": 8.0, "d": 7.0, "e": 6.0, "f": 6.0, "g": 3.0}
    for name, weight in weights.items():
        monkeypatch.setitem(FIGURE_WEIGHTS, name, weight)
    shares = share_out(list(weights), 3)
    assert sorted(n for share in shares for n in share) == sorted(weights)
    assert max(sum(weights[n] for n in share) for share in shares) == 16.0
    firsts = [weights[share[0]] for share in shares]
    assert firsts == sorted(firsts, reverse=True)
    rng = random.Random(1)
    for _ in range(300):
        names = [f"f{i}" for i in range(rng.randint(1, 8))]
        for name in names:
            monkeypatch.setitem(FIGURE_WEIGHTS, name, rng.choice([0.5, 1.0, 1.5, 2.0, 3.0, rng.uniform(0.1, 4.0)]))
        for k in (2, 3, 4):
            firsts = [FIGURE_WEIGHTS[share[0]] for share in share_out(names, k)]
            assert firsts == sorted(firsts, reverse=True), (names, k)


def test_shares_are_as_light_as_the_lightest_of_every_split(monkeypatch):
    """Against every assignment of up to 7 figures to 2 or 3 lists (random weights, seed 0)."""
    rng = random.Random(0)
    for _ in range(60):
        names = [f"f{i}" for i in range(rng.randint(1, 7))]
        for name in names:
            monkeypatch.setitem(FIGURE_WEIGHTS, name, rng.choice([0.5, 1.0, 1.5, 2.0, rng.uniform(0.1, 4.0)]))
        for k in (2, 3):
            shares = share_out(names, k)
            assert sorted(n for share in shares for n in share) == sorted(names)
            assert len(shares) <= k and all(shares)
            lightest = min(
                max(sum(FIGURE_WEIGHTS[n] for n, s in zip(names, assign, strict=True) if s == j) for j in range(k))
                for assign in itertools.product(range(k), repeat=len(names))
            )
            got = max(sum(FIGURE_WEIGHTS[n] for n in share) for share in shares)
            assert got == pytest.approx(lightest, abs=1e-12)


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
    save_png = plots.save_png

    def recording(fig, target):
        seen.append(gc.isenabled())
        save_png(fig, target)

    monkeypatch.setattr(plots, "save_png", recording)
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
