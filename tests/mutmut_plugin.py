"""pytest plugin for the mutation-testing run (docs/mutation.md), loaded with ``-p tests.mutmut_plugin``.

mutmut passes each mutant's covering tests in arbitrary order and stops at the first
failure (``-x``), so run the fast unit-level files first and the slow reference docking
last: a killed mutant then costs well under a second. Files keep their own order (and
their module-scoped fixtures) and are not interleaved.
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


def _rank(item: pytest.Item) -> int:
    name = PurePath(item.nodeid.split("::", 1)[0]).name
    for i, prefix in enumerate(_ORDER):
        if name.startswith(prefix):
            return i
    return len(_ORDER)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stable sort by file rank: fast files first, each file's tests in their own order."""
    items.sort(key=_rank)
