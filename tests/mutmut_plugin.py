"""pytest plugin for the mutation-testing run (docs/mutation.md), loaded with ``-p tests.mutmut_plugin``.

mutmut passes each mutant's covering tests in arbitrary order and stops at the first
failure (``-x``), so run the fast files first and, inside a file, the tests without a
module-scoped fixture (a simulated run shared by the file) before the ones with one: a
killed mutant then rarely pays for a simulation. Files are not interleaved, and the
tests sharing a module fixture stay together, so each fixture is still built once.
"""

from __future__ import annotations

from pathlib import PurePath

import pytest

# cheapest first: hand-built chunks, then short simulations, then the reference model
_ORDER = (
    "test_mutants_",
    "test_lever_units.py",
    "test_known_answers.py",
    "test_market_and_sample.py",
    "test_rng.py",
    "test_economics.py",
    "test_rewards_and_window.py",
    "test_levers.py",
    "test_docking.py",
)


def _rank(item: pytest.Item) -> tuple[int, bool]:
    name = PurePath(item.nodeid.split("::", 1)[0]).name
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    shared = any(d and d[-1].scope == "module" for d in defs)
    for i, prefix in enumerate(_ORDER):
        if name.startswith(prefix):
            return i, shared
    return len(_ORDER), shared


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stable sort: fast files first; in a file, tests without a module fixture first."""
    items.sort(key=_rank)
