"""pytest plugin for the mutation-testing run (docs/mutation.md), loaded with ``-p tests.mutmut_plugin``.

mutmut passes each mutant's covering tests in arbitrary order and stops at the first
failure (``-x``), so run the fast files first and, inside a file, the tests without a
module-scoped fixture (a simulated run shared by the file) before the ones with one: a
killed mutant then rarely pays for a simulation. Files are not interleaved, and the
tests sharing a module fixture stay together, so each fixture is still built once.

While mutmut collects its statistics (which test runs which function: it records the
functions a test calls between its start and its teardown), every fixture of the test
files is function-scoped: a shared fixture then counts for every test that uses it, not
only for the first one. Otherwise a test that reads a shared simulated run would never
be picked for the mutants of the functions that made the run.
"""

from __future__ import annotations

import os
from pathlib import PurePath

import pytest
from _pytest.scope import Scope

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
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        for item in items:
            info = getattr(item, "_fixtureinfo", None)
            for defs in info.name2fixturedefs.values() if info is not None else ():
                for fixturedef in defs:
                    if fixturedef.baseid.startswith("tests") and fixturedef._scope is not Scope.Function:
                        fixturedef._scope = Scope.Function
