"""A lever written against the ``LeverHooks`` protocol alone, shared by the tests that need one.

No ``Lever`` base class, hence no ``chunk_state`` and no helpers: what the model may rely on
of any lever is only the protocol (``sim.core.hooks.LeverHooks``). It costs 1 a day and
changes nothing.
"""

from __future__ import annotations


class ProtocolOnlyLever:
    """A lever written against the LeverHooks protocol alone: no Lever base class, hence no ``chunk_state``."""

    label, channel, hazard_today, cost_today = "protocol_only", None, 0.0, 0.0

    def bind(self, model) -> None:
        pass

    def admitted_segments(self):
        return None

    def channel_effects(self):
        return {}

    def begin_day(self, model, weekday: int) -> None:
        self.cost_today = 1.0

    def conversion_effects(self, ch, aware, conversion):
        return conversion

    def on_acquired(self, ch, converted) -> None:
        pass

    def visit_effects(self, ch, fx) -> None:
        pass

    def extra_visits(self, ch, ev) -> None:
        pass

    def on_visits(self, ch, ev) -> None:
        pass

    def hazard_effects(self, ch, fx) -> None:
        pass
