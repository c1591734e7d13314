"""Users as Mesa agents: views onto one row of the population arrays.

A :class:`UserAgent` holds only its slot number; every attribute reads (and
:meth:`UserAgent.step` writes) the model's arrays, so Mesa's AgentSet
(``select``, ``agg``, ``groupby``) and DataCollector agent reporters see the same
state the vectorized core updates. Agents are created on demand, so a market of
ten million slots does not hold ten million Python objects.

:meth:`UserAgent.step` is the agent-by-agent reference implementation of one day
of the model's rules (see :mod:`sim.core.model`); it is docked against the vectorized
core in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import mesa
import numpy as np

from sim.core.daily_log import MAU_DAYS, MC_GROUPS, WAU_DAYS
from sim.core.flags import FLAG_EVER_ACTIVATED, FLAG_EVER_AWARE
from sim.core.flush_to_zero import FLOAT32_TINY, habit_flush_is_exact, may_fall_below
from sim.core.hooks import ModelView, Modifiers
from sim.core.lifecycle import Stage, relabel_one
from sim.core.population import PopulationConfig

__all__ = ["AgentModel", "ReferenceDay", "UserAgent"]


class AgentModel(ModelView, Protocol):
    """What an agent reads of its model (:class:`sim.core.model.LifecycleModel` has it)."""

    population_config: PopulationConfig
    modifiers: Modifiers
    exponent_steps: np.ndarray | None


_ONE = np.float32(1.0)
_TINY = np.float32(FLOAT32_TINY)


@dataclass
class ReferenceDay:
    """What the model hands every agent for one day of reference stepping.

    Attributes:
        day: Today.
        edges: Cumulative awareness hazard by channel (:func:`sim.core.awareness.hazard_edges`).
        conversion: Today's conversion probability γ (scalar or per slot).
        visit_weekday: w_v of today.
        purchase_weekday: w_p of today.
        uniforms: Today's ``awareness``, ``activity`` and ``survival`` uniforms, per slot.
        totals: The day's totals the agents add to (:meth:`LifecycleModel.new_totals`).
        visited: Slots that visited today (appended by the agents).

    """

    day: int
    edges: np.ndarray
    conversion: Any
    visit_weekday: float
    purchase_weekday: float
    uniforms: dict[str, np.ndarray]
    totals: dict[str, Any]
    visited: list[int] = field(default_factory=list)


class UserAgent(mesa.Agent):
    """One market slot as a Mesa agent.

    Args:
        model: The owning model.
        slot: Row index in the population arrays.

    """

    def __init__(self, model: AgentModel, slot: int) -> None:
        super().__init__(model)
        self.slot = int(slot)

    # ---------------------------------------------------------------- reading
    @property
    def stage(self) -> Stage:
        """Observable lifecycle stage."""
        return Stage(int(self.model.population.stage[self.slot]))

    @property
    def alive(self) -> bool:
        """Latent alive flag (only meaningful once acquired)."""
        return bool(self.model.population.alive[self.slot])

    @property
    def acquired(self) -> bool:
        """Whether the user has been acquired."""
        return bool(self.model.population.acquired_day[self.slot] >= 0)

    @property
    def segment(self) -> str:
        """Latent segment name."""
        return self.model.segments.names[int(self.model.population.segment[self.slot])]

    @property
    def channel(self) -> str | None:
        """Channel the user became aware through (None if never aware)."""
        code = int(self.model.population.channel[self.slot])
        return self.model.channels[code] if code >= 0 else None

    @property
    def churn_hazard(self) -> float:
        """Latent daily churn hazard θ."""
        return float(self.model.population.churn_hazard[self.slot])

    @property
    def visit_propensity(self) -> float:
        """Latent visit propensity π."""
        return float(self.model.population.visit_propensity[self.slot])

    @property
    def order_value(self) -> float:
        """Revenue of one purchase."""
        return float(self.model.population.order_value[self.slot])

    @property
    def habit(self) -> float:
        """Habit level h in [0, 1]."""
        return float(self.model.population.habit[self.slot])

    @property
    def acquired_day(self) -> int | None:
        """Day of acquisition, or None."""
        day = int(self.model.population.acquired_day[self.slot])
        return day if day >= 0 else None

    @property
    def last_visit_day(self) -> int | None:
        """Day of the last visit, or None."""
        day = int(self.model.population.last_visit_day[self.slot])
        return day if day >= 0 else None

    # --------------------------------------------------------------- stepping
    def step(self, today: ReferenceDay) -> None:
        """One day of the model's rules for this user alone (reference stepping).

        The model calls it for every agent with ``reference=True`` (same rules and
        random numbers as the vectorized core, one process per method).
        """
        stage, converted = self._funnel(today)
        visited = self._visit(today, stage)
        visited = self._acquire(today, converted) or visited
        if visited:
            self._record_visit(today)
        habit = self._habit(today, visited)
        acquired, tenure = self._survive(today)
        self._relabel_and_count(today, stage, acquired, tenure, habit)

    def _purchase_threshold(self, today: ReferenceDay) -> np.float32:
        m = self.model
        return m.segments.purchase_prob[int(m.population.segment[self.slot])] * np.float32(today.purchase_weekday)

    def _buy(self, today: ReferenceDay, cohort: int) -> None:
        value = float(self.model.population.order_value[self.slot])
        today.totals["purchases"] += 1
        today.totals["revenue"] += value
        today.totals["revenue_by_cohort"][cohort] += value
        today.totals["purchases_by_cohort"][cohort] += 1
        today.totals["revenue_by_group"][self.slot % MC_GROUPS] += value

    def _funnel(self, today: ReferenceDay) -> tuple[int, bool]:
        """1. Awareness, then conversion or forgetting."""
        P, i = self.model.population, self.slot
        forget = self.model.population_config.awareness.forget_rate
        u_aware, u_act = today.uniforms["awareness"][i], today.uniforms["activity"][i]
        stage = int(P.stage[i])
        newly = converted = False
        if stage == Stage.UNAWARE and u_aware < today.edges[-1]:
            newly = True
            stage = Stage.AWARE
            P.channel[i] = int(np.searchsorted(today.edges, u_aware, side="right"))
            P.flags[i] |= FLAG_EVER_AWARE
        if stage == Stage.AWARE:
            if u_act < self._conversion(today):
                converted = True
            elif not newly and forget > 0 and u_act >= np.float32(1.0 - forget):
                stage = Stage.UNAWARE
        P.stage[i] = stage
        return stage, converted

    def _conversion(self, today: ReferenceDay) -> np.float32:
        c = today.conversion
        return c[self.slot] if isinstance(c, np.ndarray) else np.float32(c)

    def _visit(self, today: ReferenceDay, stage: int) -> bool:
        """2. Visit (and purchase) of a user acquired before today."""
        m, P, i = self.model, self.model.population, self.slot
        if not (stage >= Stage.NEW and P.alive[i]):
            return False
        u_act = today.uniforms["activity"][i]
        strength = m.population_config.habit.strength
        mult = m.modifiers.visit
        scalar = np.isscalar(mult)
        v = P.visit_propensity[i] * np.float32(today.visit_weekday * (mult if scalar else 1.0))
        if strength > 0:
            v = v * (_ONE + np.float32(strength) * P.habit[i])
        if not scalar:
            v = v * mult[i]
        if not u_act < v:
            return False
        if u_act < min(v, _ONE) * self._purchase_threshold(today):
            self._buy(today, int(P.acquired_day[i]))
        return True

    def _acquire(self, today: ReferenceDay, converted: bool) -> bool:
        """3. Acquisition: the first visit (and maybe a purchase)."""
        if not converted:
            return False
        P, i, t = self.model.population, self.slot, today.day
        P.acquired_day[i] = t
        P.alive[i] = True
        P.stage[i] = Stage.NEW
        today.totals["new_users"] += 1
        today.totals["new_by_channel"][P.channel[i]] += 1
        today.totals["acquired_by_group"][i % MC_GROUPS] += 1
        if today.uniforms["activity"][i] < min(self._conversion(today), _ONE) * self._purchase_threshold(today):
            self._buy(today, t)
        return True

    def _record_visit(self, today: ReferenceDay) -> None:
        P, i = self.model.population, self.slot
        P.last_visit_day[i] = today.day
        today.totals["dau"] += 1
        today.visited.append(i)
        today.totals["active_by_cohort"][P.acquired_day[i]] += 1

    def _habit(self, today: ReferenceDay, visited: bool) -> np.float32:
        """4. Habit (the same float32 arithmetic and flush to zero as the vectorized update)."""
        P, i = self.model.population, self.slot
        cfg = self.model.population_config.habit
        habit = P.habit[i]
        g, d = np.float32(cfg.gain), np.float32(cfg.decay)
        bump = (g * (_ONE - habit) + d * habit) * np.float32(visited)
        habit = habit * (_ONE - d) + bump
        if (
            habit < _TINY
            and may_fall_below(cfg.gain, cfg.decay, today.day, FLOAT32_TINY)
            and habit_flush_is_exact(cfg.gain, self.model.population_config.lifecycle.activated_habit)
        ):
            habit = np.float32(0.0)
        P.habit[i] = habit
        return habit

    def _survive(self, today: ReferenceDay) -> tuple[bool, int]:
        """5. Death and natural resurrection."""
        m, P, i = self.model, self.model.population, self.slot
        acquired = P.acquired_day[i] >= 0
        tenure = today.day - int(P.acquired_day[i])
        if not acquired:
            return acquired, tenure
        u_surv = today.uniforms["survival"][i]
        theta = P.churn_hazard[i]
        if m.exponent_steps is None:
            q = theta
        else:
            delta = m.exponent_steps[int(P.segment[i]), min(tenure, m.exponent_steps.shape[1] - 1)]
            with np.errstate(divide="ignore"):
                q = -np.expm1(delta * np.log1p(-theta))
        hz = m.modifiers.hazard
        hz = hz[i] if isinstance(hz, np.ndarray) else hz
        if hz != 1.0:
            q = min(q * np.float32(hz), _ONE)
        resurrection = m.population_config.resurrection_rate
        if P.alive[i]:
            if u_surv < q:
                P.alive[i] = False
        elif resurrection > 0:
            res = m.modifiers.resurrection
            res = res[i] if isinstance(res, np.ndarray) else res
            if u_surv < np.float32(resurrection) * res:
                P.alive[i] = True
        return acquired, tenure

    def _relabel_and_count(self, today: ReferenceDay, stage: int, acquired: bool, tenure: int, habit: float) -> None:
        """6. Relabel the observable stage; 7. count the user in the day's totals."""
        P, i, totals = self.model.population, self.slot, today.totals
        silence = today.day - int(P.last_visit_day[i])
        stage = relabel_one(acquired, stage, silence, tenure, habit, life=self.model.population_config.lifecycle)
        P.stage[i] = stage
        if stage == Stage.ACTIVATED:
            P.flags[i] |= FLAG_EVER_ACTIVATED
        totals[Stage(stage).name.lower()] += 1
        totals["wau"] += silence < WAU_DAYS
        totals["mau"] += silence < MAU_DAYS
        totals["latent_alive"] += bool(P.alive[i])
