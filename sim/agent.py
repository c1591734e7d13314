"""Users as Mesa agents: views onto one row of the population arrays.

A :class:`UserAgent` holds only its slot number; every attribute reads (and
:meth:`UserAgent.step` writes) the model's arrays, so Mesa's AgentSet
(``select``, ``agg``, ``groupby``) and DataCollector agent reporters see the same
state the vectorized core updates. Agents are created on demand, so a market of
ten million slots does not hold ten million Python objects.

:meth:`UserAgent.step` is the agent-by-agent reference implementation of one day
of the model's rules (see :mod:`sim.model`); it is docked against the vectorized
core in the tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.lifecycle import Stage, relabel_one
from sim.population import FLAG_EVER_ACTIVATED, FLAG_EVER_AWARE

if TYPE_CHECKING:
    from sim.model import UserLifecycleModel

__all__ = ["UserAgent"]

_ONE = np.float32(1.0)


class UserAgent(mesa.Agent):
    """One market slot as a Mesa agent.

    Args:
        model: The owning model.
        slot: Row index in the population arrays.

    """

    def __init__(self, model: UserLifecycleModel, slot: int) -> None:
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
    def step(self) -> None:
        """One day of the model's rules for this user alone (reference stepping).

        Must be called from :meth:`UserLifecycleModel.step` with
        ``reference=True``, which prepares the day context and the uniforms.
        """
        m = self.model
        ctx, totals, P, i = m._ctx, m._totals, m.population, self.slot
        cfg = m.config.population
        t = ctx.day
        u_aware = ctx.uniforms["awareness"][i]
        u_act = ctx.uniforms["activity"][i]
        u_surv = ctx.uniforms["survival"][i]
        seg = int(P.segment[i])
        stage = int(P.stage[i])
        habit = P.habit[i]
        rho = m.segments.purchase_prob[seg] * np.float32(ctx.purchase_weekday)

        # 1. funnel
        newly = False
        if stage == Stage.UNAWARE and u_aware < ctx.edges[-1]:
            newly = True
            stage = Stage.AWARE
            P.channel[i] = int(np.searchsorted(ctx.edges, u_aware, side="right"))
            P.flags[i] |= FLAG_EVER_AWARE
        converted = False
        conv = ctx.conversion[i] if isinstance(ctx.conversion, np.ndarray) else np.float32(ctx.conversion)
        if stage == Stage.AWARE:
            if u_act < conv:
                converted = True
            elif not newly and cfg.awareness.forget_rate > 0 and u_act >= np.float32(1.0 - cfg.awareness.forget_rate):
                stage = Stage.UNAWARE
        P.stage[i] = stage

        # 2. visit and purchase
        visited = False
        if stage >= Stage.NEW and P.alive[i]:
            mult = m.modifiers.visit
            scalar = np.isscalar(mult)
            v = P.visit_propensity[i] * np.float32(ctx.visit_weekday * (mult if scalar else 1.0))
            if cfg.habit.strength > 0:
                v = v * (_ONE + np.float32(cfg.habit.strength) * habit)
            if not scalar:
                v = v * mult[i]
            if u_act < v:
                visited = True
                if u_act < v * rho:
                    totals["purchases"] += 1
                    totals["revenue"] += float(P.order_value[i])
                    totals["revenue_by_cohort"][P.acquired_day[i]] += float(P.order_value[i])
        # 3. acquisition
        if converted:
            visited = True
            P.acquired_day[i] = t
            P.alive[i] = True
            totals["new_users"] += 1
            totals["new_by_channel"][P.channel[i]] += 1
            if u_act < conv * rho:
                totals["purchases"] += 1
                totals["revenue"] += float(P.order_value[i])
                totals["revenue_by_cohort"][t] += float(P.order_value[i])
        if visited:
            P.last_visit_day[i] = t
            totals["dau"] += 1
            m._visited_today.append(i)
            totals["active_by_cohort"][P.acquired_day[i]] += 1
        # 4. habit (same float32 arithmetic as the vectorized update)
        g, d = np.float32(cfg.habit.gain), np.float32(cfg.habit.decay)
        bump = (g * (_ONE - habit) + d * habit) * np.float32(visited)
        habit = habit * (_ONE - d) + bump
        P.habit[i] = habit
        # 5. death and resurrection
        acquired = P.acquired_day[i] >= 0
        tenure = t - int(P.acquired_day[i])
        if acquired:
            theta = P.churn_hazard[i]
            if m.exponent_steps is None:
                q = theta
            else:
                delta = m.exponent_steps[seg, min(tenure, m.exponent_steps.shape[1] - 1)]
                with np.errstate(divide="ignore"):
                    q = -np.expm1(delta * np.log1p(-theta))
            hz = m.modifiers.hazard
            hz = hz[i] if isinstance(hz, np.ndarray) else hz
            if hz != 1.0:
                q = min(q * np.float32(hz), _ONE)
            if P.alive[i]:
                if u_surv < q:
                    P.alive[i] = False
            elif cfg.resurrection_rate > 0:
                res = m.modifiers.resurrection
                res = res[i] if isinstance(res, np.ndarray) else res
                if u_surv < np.float32(cfg.resurrection_rate) * res:
                    P.alive[i] = True
        # 6. relabel
        silence = t - int(P.last_visit_day[i])
        stage = relabel_one(acquired, stage, silence, tenure, habit, life=cfg.lifecycle)
        P.stage[i] = stage
        if stage == Stage.ACTIVATED:
            P.flags[i] |= FLAG_EVER_ACTIVATED
        # 7. counters
        totals[Stage(stage).name.lower()] += 1
        totals["wau"] += silence < 7
        totals["mau"] += silence < 30
        totals["latent_alive"] += bool(P.alive[i])
