"""What every headline number means, in the words a page shows in its definitions box.

:func:`definitions` returns the definitions with the run's own margin, horizon and
currency written in ("(Δ gross profit − cost) / cost at a 30 % margin within 365
days"), so the reader never has to look a convention up. A page picks the terms it
shows (``definitions(..., terms=["incremental profit", "payback day"])``); the
definitions follow :mod:`sim.analysis.economics` and ``docs/model.md`` §10.
"""

from __future__ import annotations

from collections.abc import Sequence

from sim.analysis.stats import Z_95
from sim.output.formatting import counted, percent

__all__ = ["TERMS", "definitions"]

#: Every term :func:`definitions` knows, in the order pages show them.
TERMS = (
    "verdict",
    "users acquired",
    "revenue",
    "cost",
    "incremental users",
    "incremental gross profit",
    "incremental profit",
    "incremental ROI",
    "payback day",
    "CAC",
    "CAC by channel",
    "marginal ROI",
    "LTV per user",
    "classic D1 / D7 / D30",
    "rolling D_N",
    "DAU / WAU / MAU",
    "stickiness",
    "quick ratio",
    "interval (one run)",
    "interval (over seeds)",
    "P(best)",
    "seeds",
)


def definitions(
    *,
    currency: str,
    margin: float,
    horizon_days: int,
    ltv_days: int | None = None,
    terms: Sequence[str] | None = None,
) -> list[tuple[str, str]]:
    """(term, definition) pairs for a definitions box.

    Args:
        currency: The money unit.
        margin: Gross margin m on revenue (``economics.margin``).
        horizon_days: Days simulated.
        ltv_days: LTV horizon (``economics.ltv_days``), if LTV is shown.
        terms: The terms wanted, in :data:`TERMS` order; None for all.

    Raises:
        KeyError: For a term that is not in :data:`TERMS`.

    """
    m = percent(margin, 0)
    within = f"within the {horizon_days} simulated day{'' if horizon_days == 1 else 's'}"
    text = {
        "verdict": (
            f"Pays back on day N: from day N to the end of the {counted(horizon_days, 'day')}, the cumulative incremental gross "
            "profit stays at or above the cumulative cost. Does not pay back: it is still below on the last day "
            "(users acquired keep earning afterwards; LTV counts that, the verdict does not)."
        ),
        "users acquired": f"Users of the market who became users (first visit) {within}, through any channel.",
        "revenue": f"What the users' purchases brought in {within}, in {currency}; gross profit is {m} of it.",
        "cost": f"Everything the levers charged {within} (ad spend, rewards, messages, contacts …), in {currency}.",
        "incremental users": (
            "Users acquired minus the users the organic baseline acquires: the same market and seed with no levers "
            "(common random numbers, so the difference is the levers' doing)."
        ),
        "incremental gross profit": f"{m} margin × (revenue − baseline revenue) {within}.",
        "incremental profit": f"Incremental gross profit − cost: what the spend earns over doing nothing, {within}.",
        "incremental ROI": (
            f"(Δ gross profit − cost) / cost at a {m} margin {within}: 0 is break-even, +1 means every {currency} "
            "spent comes back twice, −1 means it is lost."
        ),
        "payback day": "The first day from which cumulative incremental gross profit stays ≥ cumulative cost.",
        "CAC": "Cost per incremental user: cost / incremental users.",
        "CAC by channel": "Ad spend on a channel / users acquired through it.",
        "marginal ROI": (
            "What the next 1 % of a lever's budget returns: (Δ gross profit − Δ cost) / Δ cost against a rerun with "
            "the budget knob 1 % higher. Above 0: more budget still pays; below: spend less there."
        ),
        "LTV per user": (
            f"Discounted gross profit per acquired user over {ltv_days if ltv_days else '(ltv_days)'} days of tenure: "
            "observed within the horizon plus a projected tail (not projected, and said so, when the run is too short "
            "or too small to project it from: see summary.json economics.ltv.tail_not_projected)."
        ),
        "classic D1 / D7 / D30": "Share of a day's new users active exactly 1, 7 or 30 days later, all cohorts pooled.",
        "rolling D_N": "Share of new users active on day N after acquisition or any later day.",
        "DAU / WAU / MAU": "Users active on the last day, in its last 7 days and in its last 30 days.",
        "stickiness": "DAU / MAU on the last day.",
        "quick ratio": "(new + resurrected users) / churned users of a week: above 1 the active base grows.",
        "interval (one run)": (
            f"± {Z_95:.2f} standard errors of the run's Monte-Carlo error (the sampling of simulated users); the "
            "seed-to-seed randomness of word of mouth comes on top — sweeps over seeds measure it."
        ),
        "interval (over seeds)": (
            "95 % Student-t interval of the mean over seeds (shown as ± half-width); an ROI's or a CAC's is the "
            "delta-method interval of its ratio (summed net gain / summed cost; summed cost / summed incremental "
            "users); a cost, a CAC or a retention is clipped to what it can be (shown as low to high)."
        ),
        "P(best)": (
            "Share of seeds at which the point ranks first (by incremental profit; by profit without a baseline), "
            "paired: every point sees the same random numbers at a seed; ties share."
        ),
        "seeds": "Replicates: each seed is a different random draw of the same market.",
    }
    wanted = TERMS if terms is None else terms
    return [(term, text[term]) for term in wanted]
