"""Names of sweep points and jobs that a reader can take in: only the keys that vary, each as short as it can be.

A sweep ``opsim -m strategy.paid_ads.search.daily_budget=0,1500
strategy.referral.reward_referrer=0.1,0.5 seed=0,1 population.market_size=200000``
has four points; each is named by the keys that differ between them, each key by
the shortest dotted suffix no other swept key ends with, and numbers with
thousands separators: ``daily_budget=1,500 · reward_referrer=0.5``. Constant
overrides (``population.market_size``) are said once on the page, not in every name.
Plain Python (no pandas), so a sweep's parent process can name its jobs cheaply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = ["POINT_SEPARATOR", "human_value", "point_label", "short_keys"]

#: Between the key=value parts of a point's label.
POINT_SEPARATOR = " · "
#: Numbers from this size on get thousands separators in labels.
THOUSANDS = 1000


def short_keys(keys: Sequence[str]) -> dict[str, str]:
    """Each dotted key's shortest suffix that no other key ends with.

    >>> short_keys(["strategy.paid_ads.search.daily_budget", "strategy.paid_ads.social.daily_budget", "seed"])
    {'strategy.paid_ads.search.daily_budget': 'search.daily_budget', 'strategy.paid_ads.social.daily_budget': 'social.daily_budget', 'seed': 'seed'}
    """
    keys = list(dict.fromkeys(keys))
    out = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            suffix = ".".join(parts[-n:])
            if not any(other != key and (other == suffix or other.endswith("." + suffix)) for other in keys):
                break
        out[key] = suffix
    return out


def human_value(value: object) -> str:
    """A swept value as a reader writes it: ``1500`` → ``1,500``; other values unchanged.

    >>> human_value("1500"), human_value("0.25"), human_value("paid_growth")
    ('1,500', '0.25', 'paid_growth')
    """
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number) or abs(number) < THOUSANDS:
        return text
    return f"{number:,.0f}" if number == int(number) else f"{number:,}"


def point_label(params: Mapping[str, object], keys: Sequence[str]) -> str:
    """The label of a sweep point: ``short=value`` of the given (varying) keys, joined by :data:`POINT_SEPARATOR`."""
    short = short_keys(keys)
    parts = [f"{short[k]}={human_value(params[k])}" for k in keys if k in params]
    return POINT_SEPARATOR.join(parts) or "(defaults)"
