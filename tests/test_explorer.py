"""The explorer: its model (a strategy and its baseline in lockstep), its command, and its page
in headless Chromium (loads without console errors, a slider and Step change a chart, no request
leaves the machine)."""

from __future__ import annotations

import errno
import inspect
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from sim import UserLifecycleModel, simulate
from sim.app import explorer
from sim.app.explorer_model import StrategyVsBaseline, scaled_budgets
from sim.levers.strategy import knob_ceiling

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"market_size": 200_000, "sample_size": 4_000, "horizon_days": 40}


# ------------------------------------------------------------------ the model
def test_money_in_lockstep_equals_simulates_strategy_against_baseline():
    model = StrategyVsBaseline(population="game", strategy="paid_growth", seed=3, **SMALL)
    model.run_model()
    result = simulate(
        {
            "population": "game",
            "strategy": "paid_growth",
            "population.market_size": SMALL["market_size"],
            "population.sample_size": SMALL["sample_size"],
            "horizon_days": SMALL["horizon_days"],
            "seed": 3,
            "progress": False,
            "economics.marginal_roi": False,
            "economics.spend_response_multipliers": [],
        }
    )
    econ, money = result.summary["economics"], model.money()
    assert money.day == money.horizon == 40 and not model.running
    assert money.cost == pytest.approx(econ["cost_total"], rel=1e-12)
    assert money.incremental_gross_profit == pytest.approx(econ["incremental"]["gross_profit"], rel=1e-9)
    assert money.incremental_roi == pytest.approx(econ["incremental"]["roi"], rel=1e-9)
    assert money.payback_day == econ["payback_day"]
    frame = model.datacollector.get_model_vars_dataframe()
    assert frame["cumulative_cost"].iloc[-1] == pytest.approx(money.cost)
    assert frame["incremental_gross_profit"].iloc[-1] == pytest.approx(money.incremental_gross_profit)
    assert frame["dau"].iloc[1:].tolist() == result.daily["dau"].tolist()
    assert frame.loc[0, ["cumulative_cost", "incremental_gross_profit"]].tolist() == [0, 0]


def test_the_baseline_is_the_same_market_and_seed_without_levers():
    model = StrategyVsBaseline(strategy="referral_led", seed=5, **SMALL)
    for _ in range(15):
        model.step()
    alone = UserLifecycleModel(model.config, strategy="baseline")
    for _ in range(15):
        alone.step()
    assert not model.baseline_run.levers
    assert np.array_equal(model.baseline_run.log.columns["dau"][:15], alone.log.columns["dau"][:15])


def test_a_zero_budget_strategy_earns_exactly_nothing_more_than_the_baseline():
    model = StrategyVsBaseline(strategy="paid_growth", budget_scale=0.0, seed=1, **SMALL)
    model.run_model()
    money = model.money()
    assert (money.cost, money.incremental_gross_profit, money.payback_day) == (0.0, 0.0, None)
    assert np.isnan(money.incremental_roi)


def test_budget_scale_multiplies_every_budget_knob_within_its_range():
    model = StrategyVsBaseline(strategy="balanced_mix", budget_scale=1.0, **SMALL)
    base = model.config.strategy
    doubled = scaled_budgets(base, 2.0)
    assert doubled.paid_ads["search"].daily_budget == 2 * base.paid_ads["search"].daily_budget
    assert doubled.winback.reach == min(2 * base.winback.reach, knob_ceiling(base.winback, "reach"))
    assert doubled.winback.reach <= 1.0
    assert doubled.content == base.content  # no budget knob: as it was
    paid = StrategyVsBaseline(strategy="paid_growth", **SMALL).config.strategy
    scaled = StrategyVsBaseline(strategy="paid_growth", budget_scale=1.5, **SMALL)
    assert scaled.config.strategy.paid_ads["social"].daily_budget == 1.5 * paid.paid_ads["social"].daily_budget


def test_budget_scale_multiplies_the_period_budgets_a_channel_runs_on():
    from sim import load_config

    base = load_config(
        [
            "strategy=paid_growth",
            "strategy.paid_ads.search.period_budgets=[3000,0,1500]",
            "strategy.paid_ads.social.period_budgets=[]",
        ]
    ).strategy
    doubled = scaled_budgets(base, 2.0)
    assert doubled.paid_ads["search"].period_budgets == [6000.0, 0.0, 3000.0]
    assert doubled.paid_ads["search"].daily_budget == 1500.0  # not spent with period budgets: left as it was
    assert doubled.paid_ads["social"].daily_budget == 3000.0 and doubled.paid_ads["social"].period_budgets == []


def test_population_sliders_scale_the_presets_awareness_and_conversion():
    plain = StrategyVsBaseline(population="ecommerce", **SMALL).config.population
    scaled = StrategyVsBaseline(population="ecommerce", awareness_scale=2.0, conversion_scale=0.5, **SMALL)
    pop = scaled.config.population
    assert (pop.awareness.p, pop.awareness.q) == pytest.approx((2 * plain.awareness.p, 2 * plain.awareness.q))
    assert pop.conversion_rate == pytest.approx(0.5 * plain.conversion_rate)
    assert scaled.strategy_run.population_config == pop == scaled.baseline_run.population_config


def test_the_retention_curve_stops_where_few_cohorts_are_behind_it():
    model = StrategyVsBaseline(**SMALL)
    for _ in range(30):
        model.step()
    curve, users = model.retention()
    assert len(curve) == len(users) == 16  # D_0 … D_15 after 30 days
    assert curve[0] == pytest.approx(1.0)  # everyone acquired visits on day 0


# -------------------------------------------------------------- the command
def test_every_sidebar_input_is_a_keyword_of_the_model_with_its_default():
    params = explorer.model_params()
    signature = inspect.signature(StrategyVsBaseline.__init__).parameters
    for name, spec in params.items():
        assert name in signature, name
        if name != "seed":
            assert signature[name].default == spec["value"], name
    assert "game" in params["population"]["values"] and "winback" in params["strategy"]["values"]


def test_explore_without_the_viz_extra_says_what_to_install(monkeypatch, capsys):
    real = explorer.importlib.util.find_spec
    monkeypatch.setattr(explorer.importlib.util, "find_spec", lambda m: None if m == "solara" else real(m))
    assert explorer.main(["--port", "8000"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "opsim-explore: error: solara is not installed: the explorer needs the viz extra (pip install 'opsim[viz]')"
    )


def test_a_bad_port_is_refused_with_the_allowed_range(capsys):
    with pytest.raises(SystemExit) as done:
        explorer.main(["--port", "70000"])
    assert done.value.code == 2
    assert "--port='70000' is not allowed: a whole number from 0 to 65535" in capsys.readouterr().err


def test_a_port_in_use_or_an_address_not_of_this_machine_is_refused_before_serving(capsys):
    pytest.importorskip("solara")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert explorer.main(["--port", str(port)]) == 2
        assert capsys.readouterr().err.strip() == (
            f"opsim-explore: error: --port={port} is not allowed: a free port (127.0.0.1:{port} is in use; "
            "0 picks a free one)"
        )
    assert explorer.main(["--host", "no.such.host.invalid", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "opsim-explore: error: --host='no.such.host.invalid' is not allowed: an address of this machine"
    )
    assert explorer._cannot_listen("127.0.0.1", port) is None  # free again: the check does not hold it
    assert explorer._cannot_listen("127.0.0.1", 0) is None


def test_a_usage_error_of_solaras_command_line_is_one_line_with_clicks_exit_code(capsys, monkeypatch):
    pytest.importorskip("solara")
    for name, value in explorer.SERVER_ENV.items():
        monkeypatch.setenv(name, value)  # serve() sets them for the server; restored after the test
    assert explorer.serve(["run", "--no-such-flag"]) == 2  # click's UsageError
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and re.match(r"opsim-explore: error: No such option:? '?--no-such-flag", lines[0])


def test_main_hands_solara_the_host_the_port_and_the_open_flag(monkeypatch):
    pytest.importorskip("solara")
    seen = []
    monkeypatch.setattr(explorer, "serve", lambda args: seen.append(args) or 0)
    assert explorer.main(["--port", "0", "--open"]) == 0
    assert explorer.main(["--port", "0"]) == 0
    common = ["run", explorer.PAGE_MODULE, "--host", "127.0.0.1", "--port", "0", "--production", "--no-check-version"]
    assert seen == [[*common, "--open"], [*common, "--no-open"]]
    assert explorer.solara_arguments("127.0.0.1", 0) == [*common, "--no-open"]


@pytest.mark.parametrize(
    ("raised", "code", "err"),
    [
        (None, 0, ""),
        (KeyboardInterrupt, 130, "opsim-explore: stopped (Ctrl-C)\n"),
        ("usage", 2, "opsim-explore: error: No such option: --bogus\n"),
    ],
    ids=["stops", "ctrl-c", "usage"],
)
def test_serve_turns_what_solara_does_into_an_exit_code_and_one_line(monkeypatch, capsys, raised, code, err):
    pytest.importorskip("solara")
    import click
    from solara.__main__ import cli

    for key in explorer.SERVER_ENV:
        monkeypatch.delenv(key, raising=False)  # serve() sets them; the test's end restores them
    calls = []

    def fake_main(*, args, prog_name, standalone_mode):
        calls.append((args, prog_name, standalone_mode, {k: os.environ.get(k) for k in explorer.SERVER_ENV}))
        if raised == "usage":
            raise click.UsageError("No such option: --bogus")
        if raised is not None:
            raise raised

    monkeypatch.setattr(cli, "main", fake_main)
    assert explorer.serve(["run", "x"]) == code
    assert calls == [(["run", "x"], "solara", False, explorer.SERVER_ENV)]  # Click's own handling off, env set
    assert capsys.readouterr() == ("", err)


def test_a_host_not_of_this_machine_or_a_port_not_allowed_is_named(monkeypatch):
    assert explorer._cannot_listen("192.0.2.1", 0) == (  # TEST-NET-1: no machine's address
        f"--host='192.0.2.1' is not allowed: an address of this machine ({os.strerror(errno.EADDRNOTAVAIL)})"
    )
    problem = explorer._cannot_listen("no.such.host.invalid", 0)
    assert problem.startswith("--host='no.such.host.invalid' is not allowed: an address of this machine (")
    assert "[Errno" not in problem  # the system's reason, not the exception's repr

    class Refused(socket.socket):
        def bind(self, address):
            raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(explorer.socket, "socket", Refused)
    assert explorer._cannot_listen("127.0.0.1", 80) == (
        "--port=80 is not allowed: a port this user may listen on (Permission denied)"
    )


def test_a_port_in_use_is_found_whatever_order_getaddrinfo_answers_in(monkeypatch):
    """A TCP probe even where the resolver lists a UDP address first (glibc lists TCP first)."""
    real = socket.getaddrinfo
    monkeypatch.setattr(explorer.socket, "getaddrinfo", lambda *a, **k: list(reversed(real(*a, **k))))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert explorer._cannot_listen("127.0.0.1", port).startswith(f"--port={port} is not allowed: a free port")


def test_the_console_script_is_installed():
    script = Path(sys.executable).with_name("opsim-explore")
    assert script.is_file()
    shown = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0 and "Try opsim's strategies live in the browser" in shown.stdout


# ---------------------------------------------------------------- the page
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_served(url: str, server: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server stopped: {server.stdout.read() if server.stdout else ''}")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout_s} s")


def _stopped(server: subprocess.Popen) -> str:
    """Stop a served explorer (SIGTERM, then SIGKILL after 20 s); what it printed."""
    server.terminate()
    try:
        out, _ = server.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        out, _ = server.communicate()
    return out or ""


@pytest.fixture
def served_explorer(tmp_path):
    """``opsim-explore`` on a free loopback port, as a user starts it: its URL and process; stopped afterwards."""
    pytest.importorskip("solara")
    port = _free_port()
    env = {**os.environ, "SOLARA_HOME": str(tmp_path / "solara_home")}
    server = subprocess.Popen(
        [sys.executable, "-m", "sim.app.explorer", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_served(url, server)
        yield url, server
    finally:
        if server.poll() is None:
            _stopped(server)


def test_ctrl_c_stops_the_server_with_one_line_and_exit_130(tmp_path):
    """A real SIGINT to the served page's process group, as a terminal's Ctrl-C sends it."""
    pytest.importorskip("solara")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "sim.app.explorer", "--port", str(port)],
        env={**os.environ, "SOLARA_HOME": str(tmp_path / "solara_home")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, and Ctrl-C's default action (a background shell ignores it)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        _wait_until_served(f"http://127.0.0.1:{port}/", server)
        os.killpg(server.pid, signal.SIGINT)
        _out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 130
    assert err.strip().splitlines()[-1] == "opsim-explore: stopped (Ctrl-C)"
    assert "Aborted" not in err and "Traceback" not in err


def _chart_sources(page) -> list[str]:
    return [img.get_attribute("src") or "" for img in page.locator("img").all()]


@pytest.mark.slow
def test_the_explorer_page_in_headless_chromium(served_explorer, tmp_path):
    url, server = served_explorer
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    outside: list[str] = []
    problems: list[str] = []

    def route(request_route) -> None:
        url = request_route.request.url
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname in LOOPBACK:
            request_route.continue_()
        else:  # blocked and recorded: the page must work with no internet
            outside.append(url)
            request_route.abort()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1250})
            page.route("**/*", route)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(url)
            page.get_by_text("Day 0 of 180").wait_for(timeout=90_000)
            step = page.get_by_role("button", name="Step", exact=True)
            step.click()  # five days per update (the render interval)
            page.get_by_text("Day 5 of 180").wait_for(timeout=60_000)
            # Mesa's own counter: "Step: 5" up to Mesa 3.3, "Time: 5.0" from Mesa 3.4 (Python 3.12+)
            page.get_by_text(re.compile(r"^(Step: 5|Time: 5(\.0)?)$")).wait_for(timeout=30_000)
            cost_row = page.locator("tr", has_text="cost so far")
            assert cost_row.inner_text().split() == ["cost", "so", "far", "15,000", "USD"]  # 2 channels, 3,000 a day
            charts_before = _chart_sources(page)

            budgets = page.locator(".v-slider__thumb-container").nth(7)  # "Lever budgets (x strategy)"
            budgets.focus()
            for _ in range(5):
                page.keyboard.press("ArrowRight")  # 1.0 -> 1.5
            assert budgets.get_attribute("aria-valuenow") == "1.5"
            page.get_by_role("button", name="Reset", exact=True).click()
            page.get_by_text("Day 0 of 180").wait_for(timeout=60_000)
            step.click()
            page.get_by_text("Day 5 of 180").wait_for(timeout=60_000)
            assert cost_row.inner_text().split()[-2:] == ["22,500", "USD"]  # the slider reached the model
            page.wait_for_function(
                "before => [...document.images].map(i => i.src).join() !== before.join()", arg=charts_before
            )
            assert _chart_sources(page) != charts_before

            for _ in range(5):
                step.click()
            page.get_by_text(re.compile(r"Day 30 of 180")).wait_for(timeout=120_000)
            page.wait_for_timeout(1_500)  # let the last figures arrive
            shot = tmp_path / "explorer.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert outside == []
    assert problems == []
    assert shot.read_bytes()[:4] == b"\x89PNG"
    # Solara's warnings about Mesa's page (rules of hooks) and a cookie on http, many lines each, every page load
    said = _stopped(server)
    assert "Warning" not in said, said
    target = os.environ.get("OPSIM_EXPLORER_SCREENSHOT")  # set to docs/img/explorer.png to refresh the README's
    if target:
        shutil.copy(shot, ROOT / target)


def test_a_discarded_explorer_model_frees_its_runs():
    """The page builds a new model on every reset; Mesa 3.3 would keep the old runs' agents' model for good."""
    import gc
    import weakref

    model = StrategyVsBaseline(**SMALL)  # 4,000 simulated users: agents=auto makes every agent
    model.strategy_run.user(0)
    states = [weakref.ref(model.strategy_run.population), weakref.ref(model.baseline_run.population)]
    del model
    gc.collect()
    gc.collect()  # the first collection runs the finalizer that releases the runs; the second frees them
    assert [state() for state in states] == [None, None]
