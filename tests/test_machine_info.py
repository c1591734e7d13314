"""benchmarks/machine_info.py: the processor and caches a benchmark's figures were measured on."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "machine_info.py"


@pytest.fixture
def machine_info():
    spec = importlib.util.spec_from_file_location("machine_info", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cache(folder: Path, index: int, level: str, kind: str, size: str) -> None:
    entry = folder / f"index{index}"
    entry.mkdir(parents=True)
    (entry / "level").write_text(f"{level}\n")
    (entry / "type").write_text(f"{kind}\n")
    (entry / "size").write_text(f"{size}\n")


def test_the_processor_is_the_first_model_name_line(machine_info, tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC 7B13\n"
        "processor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
    )
    monkeypatch.setattr(machine_info, "CPUINFO", cpuinfo)
    assert machine_info.processor_name() == "AMD EPYC 7B13"  # not "model" (1, the line before), not the vendor


def test_without_cpuinfo_the_processor_falls_back_to_platform(machine_info, tmp_path, monkeypatch):
    monkeypatch.setattr(machine_info, "CPUINFO", tmp_path / "missing")
    monkeypatch.setattr(machine_info.platform, "processor", lambda: "")
    monkeypatch.setattr(machine_info.platform, "machine", lambda: "aarch64")
    assert machine_info.processor_name() == "aarch64"


def test_caches_skip_the_instruction_cache_and_an_unreadable_entry_in_index_order(machine_info, tmp_path, monkeypatch):
    _cache(tmp_path, 0, "1", "Data", "48K")
    _cache(tmp_path, 1, "1", "Instruction", "32K")
    (tmp_path / "index2").mkdir()  # no level/type/size files, before the readable ones
    _cache(tmp_path, 3, "2", "Unified", "2048K")
    _cache(tmp_path, 10, "3", "Unified", "266240K")  # after index3, though "index10" < "index3" as text
    _cache(tmp_path, 4, "3", "Unified", "32768K")
    monkeypatch.setattr(machine_info, "CACHE_FOLDER", tmp_path)
    assert machine_info.caches() == {"L1": "48K", "L2": "2048K", "L3": "266240K"}


def test_one_line_names_processor_cores_caches_and_versions(machine_info):
    info = {
        "processor": "Intel(R) Xeon(R) Processor",
        "architecture": "x86_64",
        "cores_available": 2,
        "caches": {"L2": "2048K", "L3": "266240K"},
        "python": "3.11.7",
        "numpy": "2.4.6",
    }
    assert machine_info.one_line(info) == (
        "Intel(R) Xeon(R) Processor (x86_64, 2 cores available, L2 2048K, L3 266240K), Python 3.11.7, numpy 2.4.6"
    )
    assert machine_info.one_line({**info, "caches": {}}) == (
        "Intel(R) Xeon(R) Processor (x86_64, 2 cores available), Python 3.11.7, numpy 2.4.6"
    )


def test_the_script_prints_the_line_and_json_of_this_machine():
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    line, _, rest = proc.stdout.partition("\n")
    info = json.loads(rest)
    assert info["cores_available"] >= 1 and info["processor"] and line.startswith(info["processor"])
