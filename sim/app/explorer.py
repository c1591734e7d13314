"""``opsim-explore``: try strategies live in the browser, a Mesa SolaraViz page.

The page steps a :class:`~sim.app.explorer_model.StrategyVsBaseline` — the chosen
strategy and the organic baseline on the same seed — day by day (Step, Play,
Reset in the sidebar) and shows, as it goes:

* acquired users by lifecycle stage, stacked, with DAU (:func:`sim.output.figures.stages_figure`);
* DAU, WAU and MAU (Mesa's ``make_plot_component`` over the model's DataCollector);
* classic retention D_N of the cohorts so far, with D1/D7/D30 marked
  (:func:`sim.output.figures.retention_figure`);
* cumulative cost against cumulative incremental gross profit (Mesa's plot component);
* a readout of cost, incremental gross profit and profit, incremental ROI and payback day.

Step and Play advance :data:`RENDER_INTERVAL_DAYS` days per update (the sidebar's
"Render Interval" changes it). Sliders pick the population and strategy presets, the market size, the simulated
sample, the horizon, multipliers on the preset's awareness and conversion and on
every lever's budget, and the seed; Reset rebuilds the model with them.

Run it with ``opsim-explore`` (``pip install "opsim[viz]"`` first): it serves the page
with Solara on 127.0.0.1 and every asset from the local ``solara-assets`` package, so
it works without internet access. Solara and Mesa's visualisation (which imports
pyplot) are imported only when the page is built, never when this module is imported;
Solara finds the page as this module's ``Page`` attribute.
"""

from __future__ import annotations

import argparse
import errno
import html
import importlib.util
import os
import socket
import sys
import warnings
from typing import Any

from sim.app.config import config_dir
from sim.app.exits import EXIT_BAD_INPUT, EXIT_INTERRUPTED, one_line_usage_errors
from sim.app.explorer_model import StrategyVsBaseline

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "main", "model_params", "page_component", "readout_html"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Milliseconds between updates while playing.
PLAY_INTERVAL_MS = 100
#: Days stepped per update (Step and Play; a slider in the sidebar): redrawing the
#: figures costs more than simulating a day of a sample of 20,000.
RENDER_INTERVAL_DAYS = 5
#: Modules the viz extra brings (``pip install "opsim[viz]"``).
VIZ_MODULES = ("solara", "solara_assets")
#: Largest TCP port number.
MAX_PORT = 65535
#: The module Solara serves (its ``Page``); named, not ``__name__``, which is ``__main__`` under ``python -m``.
PAGE_MODULE = "sim.app.explorer"
#: Environment of the Solara server: no telemetry (it would call out to the internet).
SERVER_ENV = {"SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
#: Solara's warnings, many lines each and again at every page load, about what is not this page's to change:
#: Mesa's SolaraViz page breaking its rules of hooks, and the session cookie's fallback on plain http (loopback).
QUIETED_WARNINGS = (
    r".*mesa[/\\]visualization[/\\].*found despite early return",
    r"Cookies with samesite=none require https",
)


def _presets(group: str) -> list[str]:
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


def model_params() -> dict[str, dict[str, Any]]:
    """The sidebar's inputs, in Mesa's ``model_params`` form: one per keyword of :class:`StrategyVsBaseline`."""
    return {
        "population": {
            "type": "Select",
            "value": "consumer_app",
            "values": _presets("population"),
            "label": "Population preset",
        },
        "strategy": {
            "type": "Select",
            "value": "paid_growth",
            "values": _presets("strategy"),
            "label": "Strategy preset",
        },
        "market_size": {
            "type": "SliderInt",
            "value": 1_000_000,
            "min": 50_000,
            "max": 5_000_000,
            "step": 50_000,
            "label": "Market size M (real users)",
        },
        "sample_size": {
            "type": "SliderInt",
            "value": 20_000,
            "min": 5_000,
            "max": 100_000,
            "step": 5_000,
            "label": "Simulated users N",
        },
        "horizon_days": {
            "type": "SliderInt",
            "value": 180,
            "min": 30,
            "max": 365,
            "step": 5,
            "label": "Horizon (days)",
        },
        "awareness_scale": {
            "type": "SliderFloat",
            "value": 1.0,
            "min": 0.25,
            "max": 3.0,
            "step": 0.05,
            "label": "Awareness p and q (x preset)",
        },
        "conversion_scale": {
            "type": "SliderFloat",
            "value": 1.0,
            "min": 0.25,
            "max": 3.0,
            "step": 0.05,
            "label": "Conversion rate (x preset)",
        },
        "budget_scale": {
            "type": "SliderFloat",
            "value": 1.0,
            "min": 0.0,
            "max": 4.0,
            "step": 0.1,
            "label": "Lever budgets (x strategy)",
        },
        "seed": {"type": "SliderInt", "value": 0, "min": 0, "max": 99, "step": 1, "label": "Seed"},
    }


def readout_html(model: StrategyVsBaseline) -> str:
    """The ROI readout: day, cost, incremental gross profit and profit, incremental ROI, payback (an HTML table).

    Plain HTML rather than Solara's Markdown, which loads KaTeX from a CDN path that
    ``solara-assets`` does not carry.
    """
    m = model.money()
    cur = html.escape(m.currency)
    roi = "—" if m.cost == 0 else f"{m.incremental_roi:+.2f}"
    payback = "not yet" if m.payback_day is None else f"day {m.payback_day}"
    cfg = model.config
    rows = [
        ("cost so far", f"{m.cost:,.0f} {cur}"),
        ("incremental gross profit", f"{m.incremental_gross_profit:+,.0f} {cur}"),
        ("incremental profit", f"{m.incremental_profit:+,.0f} {cur}"),
        ("<b>incremental ROI</b>", f"<b>{roi}</b>"),
        ("payback", payback),
    ]
    cells = "".join(f'<tr><td>{k}</td><td style="text-align:right;padding-left:2em">{v}</td></tr>' for k, v in rows)
    return (
        f"<p><b>Day {m.day} of {m.horizon}</b>: strategy <code>{html.escape(cfg.strategy.name)}</code> against "
        f"the organic baseline (same seed {cfg.seed}), {html.escape(cfg.population.name)}, "
        f"M = {cfg.population.market_size:,}</p><table>{cells}</table>"
    )


def page_component() -> Any:
    """Build the explorer page: a Solara component wrapping Mesa's ``SolaraViz``.

    Solara and Mesa's visualisation are imported here. Each browser session gets its
    own model (built once per session with ``solara.use_memo``).
    """
    import solara
    from mesa.visualization import SolaraViz, make_plot_component
    from mesa.visualization.utils import update_counter

    from sim.output.figures import retention_figure, stages_figure

    params = model_params()
    start = {name: spec["value"] for name, spec in params.items()}

    def title(model: StrategyVsBaseline) -> str:
        pop = model.config.population
        return f"{pop.name}, M = {pop.market_size:,}, strategy {model.config.strategy.name}"

    @solara.component
    def Stages(model: StrategyVsBaseline) -> None:
        update_counter.get()
        if model.day == 0:
            solara.Text("Lifecycle stages appear after the first day: press Step or Play.")
            return
        solara.FigureMatplotlib(stages_figure(model.daily(), title(model)), format="png")

    @solara.component
    def Retention(model: StrategyVsBaseline) -> None:
        update_counter.get()
        if model.day < 2:
            solara.Text("Retention appears after the second day.")
            return
        curve, users = model.retention()
        solara.FigureMatplotlib(retention_figure(curve, users, title(model)), format="png")

    @solara.component
    def Money(model: StrategyVsBaseline) -> None:
        update_counter.get()
        solara.HTML(tag="div", unsafe_innerHTML=readout_html(model))

    def label_axes(ylabel: str) -> Any:
        def post(ax: Any) -> None:  # Mesa labels the x axis "Step": days simulated
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)

        return post

    activity = make_plot_component(
        {"dau": "black", "wau": "tab:blue", "mau": "tab:grey"}, post_process=label_axes("users")
    )
    money = make_plot_component(
        {"cumulative_cost": "black", "incremental_gross_profit": "tab:green"},
        post_process=label_axes("cumulative, vs the baseline"),
    )

    @solara.component
    def Page() -> None:
        model = solara.use_memo(lambda: StrategyVsBaseline(**start), dependencies=[])
        SolaraViz(
            model,
            components=[(Money, 0), (Stages, 0), activity, (Retention, 0), money],
            model_params=params,
            play_interval=PLAY_INTERVAL_MS,
            render_interval=RENDER_INTERVAL_DAYS,
            name="opsim explorer",
        )

    return Page


def __getattr__(name: str) -> Any:
    """``Page``: the explorer page, built on first access (Solara reads it with ``getattr``)."""
    if name == "Page":
        return page_component()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _port(text: str) -> int:
    try:
        port = int(text, 10)
    except ValueError:
        port = -1
    if not 0 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"--port={text!r} is not allowed: a whole number from 0 to {MAX_PORT}")
    return port


def _cannot_listen(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port``, as the error line names it; None if it can."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        return f"--host={host!r} is not allowed: an address of this machine ({exc.strerror or exc})"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"--port={port} is not allowed: a free port ({host}:{port} is in use; 0 picks a free one)"
            if exc.errno == errno.EACCES:
                return f"--port={port} is not allowed: a port this user may listen on ({exc.strerror})"
            return f"--host={host!r} is not allowed: an address of this machine ({exc.strerror or exc})"
    return None


def solara_arguments(host: str, port: int, *, open_browser: bool = False) -> list[str]:
    """Solara's command line that serves the page (production mode: no hidden iframes, no version check)."""
    return [
        "run",
        PAGE_MODULE,
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-check-version",
        "--open" if open_browser else "--no-open",
    ]


def main(argv: list[str] | None = None) -> int:
    """``opsim-explore [--host H] [--port P] [--open]``: serve the explorer page."""
    parser = argparse.ArgumentParser(
        prog="opsim-explore",
        description="Try opsim's strategies live in the browser: a Mesa SolaraViz page served on this machine "
        "(needs the viz extra: pip install 'opsim[viz]').",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to serve on (default {DEFAULT_HOST})")
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)"
    )
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    args = one_line_usage_errors(parser).parse_args(argv)
    missing = [m for m in VIZ_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"opsim-explore: error: {', '.join(missing)} is not installed: the explorer needs the viz extra "
            "(pip install 'opsim[viz]')",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if problem := _cannot_listen(args.host, args.port):
        print(f"opsim-explore: error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    where = f"http://{args.host}:{args.port}" if args.port else f"{args.host}, on a free port that Solara prints"
    print(f"opsim-explore: serving on {where} (Ctrl-C stops it)", flush=True)
    return serve(solara_arguments(args.host, args.port, open_browser=args.open))


def serve(solara_args: list[str]) -> int:
    """Run Solara's command line (``solara_args``, e.g. ``["run", PAGE_MODULE, ...]``) in this process.

    In this process, not a child, so that Ctrl-C and a terminating signal reach the
    server directly (uvicorn shuts down on either). Click's own handling (its "Aborted."
    line and exit 1 on Ctrl-C, its error box) is turned off: Ctrl-C is this command's one
    line and exit 130, a Solara usage error its message and Click's exit code.

    Returns:
        The exit code: 0 when the server stops by itself, 130 after Ctrl-C.

    """
    os.environ.update(SERVER_ENV)  # read by Solara when it is imported
    for message in QUIETED_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=UserWarning)
    import click

    try:
        from solara.__main__ import cli as solara_cli

        solara_cli.main(args=solara_args, prog_name="solara", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("opsim-explore: stopped (Ctrl-C)", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except click.exceptions.ClickException as exc:
        print(f"opsim-explore: error: {exc.format_message()}", file=sys.stderr, flush=True)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
