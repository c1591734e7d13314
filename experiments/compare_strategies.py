"""Study: which strategy pays back? Incremental ROI of strategy presets against the baseline.

Runs each strategy with the same population and seed (common random numbers) and
prints a markdown table of cost, incremental users and gross profit, incremental
ROI, payback day, D30 and LTV per user. Marginal-ROI and spend-response reruns are
switched off here to keep it quick; `opsim strategy=<name>` runs them.

Usage:
    python experiments/compare_strategies.py [--strategies paid_growth retention_first] [--market-size 1000000]
"""

from __future__ import annotations

import argparse

from sim import ConfigError, load_config, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", nargs="+", default=["paid_growth", "retention_first"])
    parser.add_argument("--population", default="consumer_app")
    parser.add_argument("--market-size", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:  # a bad strategy, population or size: one line, as the opsim command says it
        for name in args.strategies:
            load_config(
                [f"strategy={name}", f"population={args.population}", f"population.market_size={args.market_size}"]
            )
    except ConfigError as exc:
        raise SystemExit(f"compare_strategies: error: {exc}") from None
    print(f"population={args.population}, M = {args.market_size:,}, {args.days} days, seed {args.seed}\n")
    print(
        "| strategy | cost | incremental users | incremental gross profit | incremental profit | incremental ROI | payback day | D30 | LTV per user |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.strategies:
        result = simulate(
            [
                f"strategy={name}",
                f"population={args.population}",
                f"population.market_size={args.market_size}",
                f"horizon_days={args.days}",
                f"seed={args.seed}",
                "progress=false",
                "economics.marginal_roi=false",
                "economics.spend_response_multipliers=[]",
            ]
        )
        e = result.summary["economics"]
        cur = e["currency"]
        inc = e.get("incremental")  # None for a strategy without levers: nothing to compare with the baseline
        if inc is None:
            increments = f"0 {cur} | +0 | +0 {cur} | +0 {cur} | — | —"
        else:
            payback = "—" if e["payback_day"] is None else str(e["payback_day"])
            increments = (
                f"{e['cost_total']:,.0f} {cur} | {inc['acquired_users']:+,} | {inc['gross_profit']:+,.0f} {cur} | "
                f"{inc['profit']:+,.0f} {cur} | {inc['roi']:+.2f} | {payback}"
            )
        print(f"| {name} | {increments} | {_share(result.summary['retention']['d30'])} | {_money(e['ltv'], cur)} |")


def _share(value: float | None) -> str:
    """A retention share in per cent, or — where the run is too short to observe it."""
    return "—" if value is None or value != value else f"{100 * value:.1f} %"


def _money(ltv: dict, currency: str) -> str:
    per_user = ltv.get("per_user")
    return "—" if per_user is None or per_user != per_user else f"{per_user:.2f} {currency}"


if __name__ == "__main__":
    main()
