"""The package's shape: one import direction, no cycles, no side effects at import.

The layers (README, "Architecture") are import-linter contracts in pyproject.toml. grimp
(import-linter's graph) counts every import: at module level, inside functions and under
``TYPE_CHECKING``. The checks here are run on the real package, and once on a copy with a
deliberate violation, so a contract that stopped biting would fail too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import grimp
import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("sim.app", "sim.output", "sim.analysis", "sim.levers", "sim.core", "sim.base")


def _lint(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package found at ``root`` (its pyproject.toml holds the contracts)."""
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(config_filename='pyproject.toml'))"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _module_graph(package: str = "sim") -> nx.DiGraph:
    graph = grimp.build_graph(package, cache_dir=None)
    g = nx.DiGraph()
    for module in graph.modules:
        g.add_node(module)
        for imported in graph.find_modules_directly_imported_by(module):
            g.add_edge(module, imported)
    return g


def test_the_layer_contracts_hold():
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


def test_no_import_cycle_counting_function_and_type_checking_imports():
    graph = grimp.build_graph("sim", cache_dir=None)
    # grimp sees imports under TYPE_CHECKING and inside functions (else this check would be blind):
    assert graph.direct_import_exists(importer="sim.core.hooks", imported="sim.core.population")  # TYPE_CHECKING
    assert graph.direct_import_exists(importer="sim.app.cli", imported="sim.app.simulate")  # inside a function
    cycles = [sorted(c) for c in nx.strongly_connected_components(_module_graph()) if len(c) > 1]
    assert cycles == []


def test_every_module_belongs_to_a_layer():
    modules = grimp.build_graph("sim", cache_dir=None).modules
    loose = sorted(m for m in modules if m not in ("sim", "sim.__main__", "sim.conf") and not m.startswith(LAYERS))
    assert loose == []


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("core/rng.py", "from sim.levers import base", "One direction"),  # a lower layer importing a higher one
        ("analysis/stats.py", "from sim.core import rng", "do not import each other"),  # analysis -> core
    ],
    ids=["core-imports-levers", "analysis-imports-core"],
)
def test_a_violation_inside_a_function_breaks_a_contract(tmp_path, module, line, broken):
    shutil.copytree(ROOT / "sim", tmp_path / "sim", symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "sim" / module
    target.write_text(
        target.read_text()
        + textwrap.dedent(f"""

        def _violation():
            {line}
        """)
    )
    proc = _lint(tmp_path)
    assert proc.returncode != 0
    assert broken in proc.stdout and "BROKEN" in proc.stdout


def test_importing_and_saving_a_run_changes_no_process_state(tmp_path):
    """No matplotlib backend switch, no pyplot, no argv rewrite, no umask change, no root logging set-up."""
    code = textwrap.dedent(f"""
        import importlib, logging, os, pkgutil, sys
        import matplotlib
        argv, umask = list(sys.argv), os.umask(0o022)
        os.umask(umask)
        handlers = list(logging.getLogger().handlers)
        import sim
        for m in pkgutil.walk_packages(sim.__path__, "sim."):
            if m.name not in ("sim.__main__", "sim.conf"):
                importlib.import_module(m.name)
        from sim import simulate
        result = simulate(["population.market_size=3000", "horizon_days=20", "progress=false"])
        result.save({str(tmp_path)!r})
        result.plot("stages")  # a notebook's figure, on a plain Figure
        assert matplotlib.get_backend().lower() == "svg", matplotlib.get_backend()
        assert "matplotlib.pyplot" not in sys.modules
        assert sys.argv == argv
        assert os.umask(umask) == umask
        assert logging.getLogger().handlers == handlers
        print("ok")
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={"MPLBACKEND": "svg", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    assert (tmp_path / "report.html").is_file()
