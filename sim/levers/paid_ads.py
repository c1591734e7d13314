"""Paid ads per channel: spend → impressions → adstock → Hill saturation → awareness.

For channel k on day t, with daily spend s_t (``daily_budget`` while the
schedule is on, else 0; with ``period_budgets`` [b_0, b_1, …] the daily budget of
day t is b_p, p = ⌊(t − t_w) / ``period_days``⌋ from the spend window's start t_w,
and 0 once the list ends — a plan per week or month), cost per thousand
impressions ``cpm`` and a market of M real people (``population.market_size``):

    x_t = 1000 · s_t / cpm                                    (impressions)
    A_t = x_t + λ · A_{t−1}                                   (adstock.kind = geometric)
    A_t = Σ_{l=0}^{L−1} λ^((l − δ)²) · x_{t−l}                 (adstock.kind = delayed)
    a_t = A_t / M                                             (adstocked impressions per person)
    e_t = h_max · a_t^n / (a_t^n + K^n)                       (Hill saturation)

with λ = ``adstock.decay`` (carry-over), δ = ``adstock.peak_delay``, L =
``adstock.max_lag``, h_max = ``saturation.max_hazard``, K =
``saturation.half_saturation`` (adstocked impressions *per person of the
market* at half effect) and n = ``saturation.shape``. The effect is defined per
real person, so it does not depend on how many of them are simulated. e_t is channel k's extra daily awareness hazard for
UNAWARE slots in the targeted segments; users made aware by it belong to
channel k. They convert with ``conversion_multiplier`` × the organic rate, and
once acquired their churn hazard and visit probability are multiplied by
``quality.churn_multiplier`` and ``quality.visit_multiplier`` (channel user
quality). Above K the response is concave: doubling spend less than doubles it.
Cost: s_t on every day the schedule is on.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sim.base.errors import ConfigError
from sim.base.schema import MAX_MONEY, MAX_MULTIPLIER, bounded, format_number
from sim.core.hooks import ModelView
from sim.levers.base import Lever, QualityConfig, Schedule, SpendWindow, Target

__all__ = ["MAX_ADSTOCK_LAG", "MIN_CPM", "AdstockConfig", "PaidAds", "PaidAdsConfig", "SaturationConfig", "hill"]

#: Smallest cost per thousand impressions, in the config's currency: a millionth of a
#: unit, far below any real CPM (cents to tens of dollars, or as much in another
#: currency). With budgets <= MAX_MONEY a day buys at most 10^21 impressions, so the
#: adstock stays finite (a delayed kernel's zero weights times an infinite day would be NaN).
MIN_CPM = 1e-6
#: Longest delayed-adstock kernel (``adstock.max_lag``), in days, and the latest peak in it
#: (``adstock.peak_delay``): a peak past the longest kernel puts every weight λ^((l − δ)²) at
#: about 0 (the ads do nothing), and one of 10^155 or more overflowed (l − δ)² to inf.
MAX_ADSTOCK_LAG = 365


@dataclass
class AdstockConfig:
    """Carry-over of ad impressions from one day to the next."""

    kind: str = bounded("geometric", choices=("geometric", "delayed"))
    decay: float = bounded(0.5, ge=0, lt=1)
    peak_delay: float = bounded(2.0, ge=0, le=MAX_ADSTOCK_LAG)
    max_lag: int = bounded(14, ge=1, le=MAX_ADSTOCK_LAG)


@dataclass
class SaturationConfig:
    """Hill curve from adstocked impressions to daily awareness hazard."""

    max_hazard: float = bounded(0.002, ge=0, le=1)
    half_saturation: float = bounded(0.2, gt=0)
    shape: float = bounded(1.5, gt=0)


@dataclass
class PaidAdsConfig:
    """One paid ad channel (the key under ``strategy.paid_ads`` is its channel name)."""

    daily_budget: float = bounded(1000.0, ge=0, le=MAX_MONEY)
    period_budgets: list[float] = field(default_factory=list)
    period_days: int = bounded(7, ge=1)
    cpm: float = bounded(10.0, ge=MIN_CPM, le=MAX_MONEY)
    adstock: AdstockConfig = field(default_factory=AdstockConfig)
    saturation: SaturationConfig = field(default_factory=SaturationConfig)
    conversion_multiplier: float = bounded(1.0, ge=0, le=MAX_MULTIPLIER)
    quality: QualityConfig = field(default_factory=QualityConfig)
    schedule: Schedule = field(default_factory=Schedule)
    target: Target = field(default_factory=Target)


def hill(adstock: np.ndarray | float, max_hazard: float, half_saturation: float, shape: float) -> Any:
    """Hill saturation e = h_max · A^n / (A^n + K^n), computed as h_max · r / (1 + r), r = (A/K)^n.

    Where r overflows (A far above K, or a large n) the curve has saturated: e = h_max,
    its limit, instead of inf / inf = NaN.
    """
    a = np.asarray(adstock, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = np.power(a / half_saturation, shape)
        return np.where(np.isinf(ratio), max_hazard, max_hazard * ratio / (1.0 + ratio))[()]


def delayed_weights(decay: float, peak_delay: float, max_lag: int) -> np.ndarray:
    """Kernel w_l = λ^((l − δ)²), l = 0 … L − 1 (Jin et al. 2017, "delayed adstock")."""
    lags = np.arange(max_lag, dtype=np.float64)
    return np.power(decay, (lags - peak_delay) ** 2) if decay > 0 else (lags == round(peak_delay)).astype(float)


class PaidAds(Lever):
    """A paid ad channel."""

    kind = "paid_ads"
    budget_key = "daily_budget"
    target_stages = ("unaware",)

    def __init__(self, name: str, cfg: PaidAdsConfig, window: SpendWindow | None = None) -> None:
        super().__init__(name, cfg, window)
        self.channel = name
        self.adstock = 0.0
        self.hazard_today = 0.0
        self.spend_total = 0.0
        self._history: deque[float] = deque(maxlen=cfg.adstock.max_lag)
        self._weights = delayed_weights(cfg.adstock.decay, cfg.adstock.peak_delay, cfg.adstock.max_lag)

    @staticmethod
    def check(key: str, cfg: PaidAdsConfig) -> None:
        """Ads reach people who do not know the product yet: no stage targeting; budgets >= 0."""
        for i, b in enumerate(cfg.period_budgets):
            if not np.isfinite(b) or not 0 <= b <= MAX_MONEY:
                raise ConfigError(
                    f"{key}.period_budgets[{i}]", b, f"a daily budget >= 0 and <= {format_number(MAX_MONEY)}"
                )
        if cfg.target.stages not in ([], ["unaware"]):
            raise ConfigError(f"{key}.target.stages", list(cfg.target.stages), "[] or [unaware]: ads act on awareness")
        if cfg.target.channels:
            raise ConfigError(f"{key}.target.channels", list(cfg.target.channels), "[]: an ad channel is the channel")

    def begin_day(self, model: ModelView, weekday: int) -> None:
        """Spend, adstock and today's awareness hazard."""
        super().begin_day(model, weekday)
        spend = self.budget_on(model.day) if self.on_today else 0.0
        impressions = 1000.0 * spend / self.cfg.cpm
        ad = self.cfg.adstock
        if ad.kind == "geometric":
            self.adstock = impressions + ad.decay * self.adstock
        else:
            self._history.appendleft(impressions)
            self.adstock = float(np.dot(self._weights[: len(self._history)], np.fromiter(self._history, float)))
        sat = self.cfg.saturation
        per_person = self.adstock / model.market_size
        self.hazard_today = float(hill(per_person, sat.max_hazard, sat.half_saturation, sat.shape))
        self.cost_today = spend
        self.spend_total += spend

    @classmethod
    def budget_level(cls, cfg: PaidAdsConfig) -> float:
        """The largest daily budget the channel runs at: of ``period_budgets`` when given, else ``daily_budget``."""
        return float(max(cfg.period_budgets)) if cfg.period_budgets else float(cfg.daily_budget)

    @classmethod
    def with_budget_scaled(cls, cfg: PaidAdsConfig, factor: float, *, cap: float | None = None) -> PaidAdsConfig:
        """``cfg`` with the budget it runs on × ``factor`` (at most ``cap``): every period budget, or ``daily_budget``.

        With ``period_budgets`` set, ``daily_budget`` is not spent (:meth:`budget_on`), so
        scaling it would move nothing; it is left as it is. ``cap`` defaults to the
        largest daily budget allowed, :data:`~sim.base.schema.MAX_MONEY`.
        """
        if not cfg.period_budgets:
            return super().with_budget_scaled(cfg, factor, cap=cap)
        top = MAX_MONEY if cap is None else cap
        return replace(cfg, period_budgets=[min(b * factor, top) for b in cfg.period_budgets])

    def budget_on(self, day: int) -> float:
        """The daily budget that applies on ``day`` (``period_budgets`` when given, else ``daily_budget``)."""
        budgets = self.cfg.period_budgets
        if not budgets:
            return self.cfg.daily_budget
        period = (day - self.window.start_day) // self.cfg.period_days
        return float(budgets[period]) if 0 <= period < len(budgets) else 0.0

    def channel_effects(self) -> dict[str, tuple[float, float, float]]:
        """Conversion and user quality of this channel."""
        q = self.cfg.quality
        return {self.channel: (self.cfg.conversion_multiplier, q.churn_multiplier, q.visit_multiplier)}
