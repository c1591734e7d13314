"""What a default run costs besides stepping (target 1), and what composing a config costs (target 2).

* **run phases** — the default configuration (``opsim``: consumer_app, strategy
  baseline, events recorded, figures on) at M users over H days, as the ``opsim``
  command runs it, each round in a fresh process so that imports count as they do for
  a user: figure workers started first (:class:`sim.output.figure_workers.FigureWorkers`,
  or none with ``--no-workers``), ``simulate()`` (its ``meta["phase_seconds"]``:
  model set-up, stepping, analytics, the rest), then ``Result.save()`` (its
  ``save_seconds``: the tables and other files, then the figures with the report and the
  completion marker); then each figure once more, alone, in the
  warm process (what it costs a core). Target 1: analytics + summary + tables +
  figures at most 20 % of stepping (each round's own sum over its own stepping, and the
  median of the rounds: the phases overlap, the figures being drawn while the analytics
  are computed and the tables written, so their medians need not add up to a round's).
* **the command** — the ``opsim`` console script itself on the same config, as a user
  types it (a fresh process each round; with its figure workers, also under ``--no-workers``): seconds from its start to its exit, and its
  stepping as its ``meta.json`` records it, to compare with the phases above (the
  command starts its figure workers before its own imports, :mod:`sim.app.start`, as
  :func:`run_phases` does).
* **compose** — ``compose()`` and ``load_config()`` of the default overrides in a fresh
  process: the first call, then the median of the following ones (each with other
  values, so the cache keyed on the call is hit only for the repeated ones). Target 2:
  at most 50 ms after the first call.

Timings on this shared 2-core machine drift by ±20 %: each figure is the median of
``--rounds`` fresh processes.

The run's kernels are ``--kernels`` (default auto, as ``opsim``'s: compiled where numba is
installed). Faster stepping raises the share of the rest.

Usage:
    python benchmarks/bench_overhead.py [--users 1000000] [--days 365] [--rounds 3] [--no-workers]
        [--kernels auto|numpy|compiled] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sim.core.kernels import KERNEL_MODES, load_kernels

#: Target 1: analytics and output at most this share of stepping time.
OUTPUT_SHARE_TARGET = 0.20
#: Target 2: compose / load_config after the first call, in milliseconds.
COMPOSE_TARGET_MS = 50.0
#: Calls of compose() and load_config() timed after the first one.
COMPOSE_CALLS = 20


def run_phases(users: int, days: int, workers: bool, kernels: str = "auto") -> dict[str, float]:
    """One default run in this process, as ``opsim`` runs it: seconds per phase."""
    started = time.perf_counter()
    from contextlib import nullcontext

    from sim.output.figure_workers import FigureWorkers

    with FigureWorkers() if workers else nullcontext() as pool:
        from sim import load_config, simulate

        cfg = load_config(
            [f"population.market_size={users}", f"horizon_days={days}", "progress=false", f"kernels={kernels}"]
        )
        imported = time.perf_counter()
        result = simulate(cfg, figure_workers=pool)
        simulated = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            result.save(tmp, figure_workers=pool)  # its phases in result.save_seconds
            figure_cpu = figure_seconds(tmp)
    phases = result.meta["phase_seconds"]
    return figure_cpu | {
        "start_and_config": imported - started,
        "model_setup": phases["model_setup"],
        "stepping": phases["stepping"],
        "analytics": phases["analytics"],
        "summary": (simulated - imported) - phases["model_setup"] - phases["stepping"] - phases["analytics"],
        "tables": result.save_seconds["data"],
        "figures_and_report": result.save_seconds["report"] + result.save_seconds["marker"],
    }


def output_seconds(phases: dict[str, float]) -> float:
    """Analytics and output of one round: what target 1 counts against its stepping."""
    return phases["analytics"] + phases["summary"] + phases["tables"] + phases["figures_and_report"]


def command_run(users: int, days: int, kernels: str = "auto") -> dict[str, float]:
    """The ``opsim`` command (the console script beside this Python) on the default config: wall and stepping seconds."""
    script = Path(sys.executable).with_name("opsim")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sim"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        args = [f"population.market_size={users}", f"horizon_days={days}", "progress=false", f"kernels={kernels}"]
        args.append(f"hydra.run.dir={out}")
        started = time.perf_counter()
        done = subprocess.run([*command, *args], capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        meta = json.loads((out / "meta.json").read_text())
    return {"wall": wall, "stepping": meta["phase_seconds"]["stepping"]}


def figure_seconds(folder: str) -> dict[str, float]:
    """Each figure of the result folder drawn and saved again in this process, once it has drawn them all.

    ``figure:NAME``: seconds as a figure worker draws it (:func:`sim.output.figure_workers.draw_pngs`:
    one drawing, the garbage collector paused), what each figure costs one core; the figures
    phase above is the slowest worker's share of them. ``savefig:NAME``: the same figure
    saved by matplotlib's ``savefig`` (two drawings), the garbage collector paused too.
    """
    import io

    from sim.output.figure_workers import _no_collection, draw_pngs
    from sim.output.run_report import draw_figure, figure_names, load_folder
    from sim.output.style import house_style

    def with_savefig(name):
        with _no_collection(), house_style():
            draw_figure(data, name).savefig(io.BytesIO(), format="png")

    data = load_folder(folder)
    draw_pngs(data, figure_names(data))  # this process's first drawing also loads fonts: not timed
    out = {}
    for name in figure_names(data):
        for label, draw in (("figure", lambda n: draw_pngs(data, [n])), ("savefig", with_savefig)):
            started = time.perf_counter()
            draw(name)
            out[f"{label}:{name}"] = time.perf_counter() - started
    return out


def compose_times() -> dict[str, float]:
    """compose() and load_config() in this process: the first call and the median of the next ones (seconds)."""
    from sim import compose, load_config

    def timed(call) -> float:
        t = time.perf_counter()
        call()
        return time.perf_counter() - t

    first_compose = timed(lambda: compose(["seed=0"]))
    first_load = timed(lambda: load_config(["seed=0", "population.market_size=1000"]))
    repeat = [timed(lambda: compose(["seed=0"])) for _ in range(COMPOSE_CALLS)]
    repeat_load = [timed(lambda: load_config(["seed=0", "population.market_size=1000"])) for _ in range(COMPOSE_CALLS)]
    other = [timed(lambda i=i: compose([f"seed={i}"])) for i in range(1, COMPOSE_CALLS + 1)]
    return {
        "compose_first": first_compose,
        "load_config_first": first_load,
        "compose_again": statistics.median(repeat),
        "load_config_again": statistics.median(repeat_load),
        "compose_other_values": statistics.median(other),
    }


def _fresh(call: str) -> dict[str, float]:
    """Run ``call`` (an expression of this module) in a fresh Python process; its dict."""
    code = f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_overhead as b; print(json.dumps({call}))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(
    users: int = 1_000_000, days: int = 365, rounds: int = 3, workers: bool = True, kernels: str = "auto"
) -> dict:
    """Both measurements, ``rounds`` fresh processes each; medians and every round."""
    runs, commands = [], []
    for _ in range(rounds):  # alternating, so that both see the machine's same phases
        runs.append(_fresh(f"b.run_phases({users}, {days}, {workers}, {kernels!r})"))
        commands.append(command_run(users, days, kernels))
    composes = [_fresh("b.compose_times()") for _ in range(rounds)]
    run = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    comp = {k: statistics.median(c[k] for c in composes) for k in composes[0]}
    command = {k: statistics.median(c[k] for c in commands) for k in commands[0]}
    # each round's own sum: the phases overlap (figures drawn while the analytics are computed), so a slow
    # phase in one round is a fast one in the other, and the medians of the phases do not add up to a round
    outputs = [output_seconds(r) for r in runs]
    return {
        "users": users,
        "days": days,
        "figure_workers": workers,
        "kernels": load_kernels(kernels).name,
        "run": run,
        "compose": comp,
        "command": command,
        "output": statistics.median(outputs),
        "output_share": statistics.median(o / r["stepping"] for o, r in zip(outputs, runs, strict=True)),
        "output_shares": [o / r["stepping"] for o, r in zip(outputs, runs, strict=True)],
        "rounds": {"run": runs, "command": commands, "compose": composes},
    }


def report(result: dict) -> str:
    """The figures as text, each next to its target."""
    run, comp = result["run"], result["compose"]
    lines = [
        f"default run, M = {result['users']:,}, {result['days']} days, kernels {result['kernels']}, figure workers "
        f"{'on' if result['figure_workers'] else 'off'} (median of {len(result['rounds']['run'])} fresh processes):",
        "",
        "| phase | seconds |",
        "|---|---:|",
    ]
    lines += [f"| {name.replace('_', ' ')} | {seconds:.2f} |" for name, seconds in run.items() if ":" not in name]
    figures = {name.removeprefix("figure:"): seconds for name, seconds in run.items() if name.startswith("figure:")}
    savefig = sum(seconds for name, seconds in run.items() if name.startswith("savefig:"))
    lines += [
        "",
        f"each figure on one core, drawn again in the warm process (all: {sum(figures.values()):.2f} s; "
        f"with matplotlib's savefig {savefig:.2f} s): "
        + ", ".join(f"{name} {sec:.2f}" for name, sec in figures.items()),
    ]
    shares = result["output_shares"]
    command = result["command"]
    lines += [
        "",
        f"the opsim command on the same config: {command['wall']:.2f} s from its start to its exit, "
        f"stepping {command['stepping']:.2f} s (its meta.json; {run['stepping']:.2f} s above)",
        "",
        f"analytics+output = {result['output']:.2f} s; analytics+output / stepping = {result['output_share']:.3f} "
        f"(target <= {OUTPUT_SHARE_TARGET:.2f}; medians of the rounds' own, which ranged "
        f"{min(shares):.3f}-{max(shares):.3f})",
        f"compose after first call = {1000 * comp['compose_again']:.0f} ms, load_config {1000 * comp['load_config_again']:.0f} ms "
        f"(target <= {COMPOSE_TARGET_MS:.0f}); first call {1000 * comp['compose_first']:.0f} ms; "
        f"compose with other values {1000 * comp['compose_other_values']:.0f} ms",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-workers", action="store_true", help="draw the figures in the run's own process")
    parser.add_argument("--json", help="also write every round to this JSON file")
    parser.add_argument("--kernels", choices=KERNEL_MODES, default="auto", help="the run's kernels (default auto)")
    args = parser.parse_args()
    result = measure(args.users, args.days, args.rounds, workers=not args.no_workers, kernels=args.kernels)
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
