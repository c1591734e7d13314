"""The completion marker DONE.json and atomic writes: what counts as a finished result folder."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import sim
from sim.base.errors import OutputError
from sim.output import completion
from sim.output.files import remove_temporaries, write_all, write_atomic


@dataclass
class _Cfg:
    seed: int = 0
    progress: bool = True
    inner: dict = field(default_factory=lambda: {"a": 1})


@pytest.fixture
def finished(tmp_path):
    """A folder with two result files and their marker."""
    (tmp_path / "summary.json").write_text('{"d1": 0.25}\n')
    (tmp_path / "daily.parquet").write_bytes(b"PAR1" + bytes(range(200)) + b"PAR1")
    completion.write_marker(tmp_path, ["summary.json", "daily.parquet"], "abc", seconds=1.5)
    return tmp_path


def test_marker_records_size_and_sha256_computed_independently(finished):
    marker = json.loads((finished / completion.DONE).read_text())
    data = (finished / "daily.parquet").read_bytes()
    assert marker["files"]["daily.parquet"] == {"size": 208, "sha256": hashlib.sha256(data).hexdigest()}
    assert marker["config_hash"] == "abc" and marker["seconds"] == 1.5
    assert completion.check_complete(finished, "abc") is None and completion.check_complete(finished) is None


def test_every_kind_of_damage_is_found(finished):
    assert completion.check_complete(finished, "other") == "DONE.json is from another config"
    data = (finished / "daily.parquet").read_bytes()
    (finished / "daily.parquet").write_bytes(data[:100])  # truncated
    assert completion.check_complete(finished) == "daily.parquet: size 100, DONE.json says 208"
    (finished / "daily.parquet").write_bytes(data[:-1] + b"X")  # same size, one byte changed
    assert completion.check_complete(finished) == "daily.parquet: content differs from its SHA-256 in DONE.json"
    (finished / "daily.parquet").unlink()
    assert completion.check_complete(finished) == "daily.parquet is missing"
    (finished / completion.DONE).write_text('{"config_hash": "abc", "files"')  # a torn marker
    assert completion.check_complete(finished) == "no readable DONE.json"
    (finished / completion.DONE).write_text(json.dumps({"config_hash": "abc", "files": {"../x": {"size": 1}}}))
    assert "not a file of this folder" in completion.check_complete(finished)


def test_update_marker_follows_a_rebuilt_file(finished):
    (finished / "summary.json").write_text('{"d1": 0.26}\n')
    assert completion.check_complete(finished) is not None
    completion.update_marker(finished, ["summary.json"])
    assert completion.check_complete(finished, "abc") is None


def test_config_hash_ignores_only_the_progress_bar():
    assert completion.config_hash(_Cfg(progress=True)) == completion.config_hash(_Cfg(progress=False))
    assert completion.config_hash(_Cfg(seed=0)) != completion.config_hash(_Cfg(seed=1))
    assert completion.config_hash(_Cfg()) != completion.config_hash(_Cfg(inner={"a": 2}))


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("old")

    def fails(path):
        path.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError) as info:
        write_atomic(target, fails)
    assert str(info.value) == f"cannot write {target}: No space left on device" and info.value.errno == 28
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_only_opsims_temporaries_are_removed(tmp_path):
    ours = [tmp_path / ".daily.parquet.0a1b2c3d.tmp", tmp_path / ".summary.json.ffffffff.tmp"]
    theirs = [tmp_path / ".notes.tmp", tmp_path / ".x.0a1b2c3.tmp", tmp_path / "daily.parquet.0a1b2c3d.tmp"]
    for path in ours + theirs:
        path.write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".y.0a1b2c3d.tmp").write_text("below: not this folder's")
    assert sorted(remove_temporaries(tmp_path)) == sorted(ours)
    assert all(p.exists() for p in theirs) and (tmp_path / "sub" / ".y.0a1b2c3d.tmp").exists()


@pytest.mark.parametrize("writer", ["write_atomic", "write_all"])
def test_a_write_removes_what_a_killed_write_of_the_same_file_left(tmp_path, writer):
    """Only that file's leftovers: another file's temporary (maybe being written now) is left alone."""
    left = [tmp_path / ".plan.json.0a1b2c3d.tmp", tmp_path / ".plan.json.ffffffff.tmp"]  # a temporary, a backup
    other = tmp_path / ".frontier.png.0a1b2c3d.tmp"
    for path in [*left, other]:
        path.write_text("killed")
    target = tmp_path / "plan.json"
    if writer == "write_atomic":
        write_atomic(target, lambda p: p.write_text("new"))
    else:
        write_all({target: lambda p: p.write_text("new")})
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".frontier.png.0a1b2c3d.tmp", "plan.json"]
    assert remove_temporaries(tmp_path, of="frontier.png") == [other] and list(tmp_path.iterdir()) == [target]


def test_a_temporary_removed_meanwhile_by_another_cleaner_is_no_error(tmp_path, monkeypatch):
    stale = tmp_path / ".out.txt.0123abcd.tmp"
    stale.write_text("x")
    real = Path.is_file

    def gone_meanwhile(self):  # another process removes it between this check and the unlink
        found = real(self)
        if self == stale:
            self.unlink()
        return found

    monkeypatch.setattr(Path, "is_file", gone_meanwhile)
    assert remove_temporaries(tmp_path) == [stale]


def test_a_marker_names_the_code_that_wrote_it_and_a_sweep_can_ask_for_it(finished, monkeypatch):
    """A sweep reused jobs computed by older code: the config hash is the same, the code is not."""
    code = completion.code_fingerprint()
    assert json.loads((finished / completion.DONE).read_text())["code"] == code
    assert completion.check_complete(finished, "abc", code=code) is None
    assert completion.check_complete(finished, "abc", code="f" * 64) == completion.OTHER_CODE
    marker = json.loads((finished / completion.DONE).read_text())
    del marker["code"]  # a marker of a version before fingerprints
    (finished / completion.DONE).write_text(json.dumps(marker))
    assert completion.check_complete(finished, "abc") is None  # a report still reads the folder
    assert completion.check_complete(finished, "abc", code=code) == completion.OTHER_CODE


def _fingerprint_of(package_parent: Path) -> str:
    script = "from sim.output.completion import code_fingerprint; print(code_fingerprint())"
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=package_parent, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def test_the_code_fingerprint_follows_source_and_presets_not_compiled_files(tmp_path):
    """Measured on a copy of the package: an edit of a source or a preset changes it, a .pyc does not."""
    copy = tmp_path / "copy"
    shutil.copytree(Path(sim.__file__).parent, copy / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    first = _fingerprint_of(copy)
    assert first == completion.code_fingerprint()  # a copy of the same code (conf a folder, not a link): the same
    (copy / "sim" / "core" / "__pycache__").mkdir(exist_ok=True)
    (copy / "sim" / "core" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (copy / "sim" / "notes.txt").write_text("not code")
    assert _fingerprint_of(copy) == first
    visits = copy / "sim" / "core" / "visits.py"
    visits.write_text(visits.read_text() + "\n# an edit\n")
    second = _fingerprint_of(copy)
    assert second != first
    preset = next((copy / "sim" / "conf" / "strategy").glob("*.yaml"))
    preset.write_text(preset.read_text() + "\n# an edit\n")
    assert _fingerprint_of(copy) not in (first, second)


def test_the_code_fingerprint_changes_when_a_file_is_renamed_and_not_with_the_listing_order(tmp_path, monkeypatch):
    """A preset renamed (same content, another name to select it by) is other code; the order a file system
    lists a folder in is not (two checkouts of the same code on two disks have one fingerprint)."""
    copy = tmp_path / "copy"
    shutil.copytree(Path(sim.__file__).parent, copy / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    first = _fingerprint_of(copy)
    preset = sorted((copy / "sim" / "conf" / "strategy").glob("*.yaml"))[0]
    preset.rename(preset.with_name("0" + preset.name))  # still the first file of its folder: only its name differs
    assert _fingerprint_of(copy) != first
    real_walk = os.walk

    def reversed_walk(top, **kwargs):  # every folder's names listed the other way round
        for folder, dirs, names in real_walk(top, **kwargs):
            dirs.reverse()
            yield folder, dirs, names[::-1]

    completion.code_fingerprint.cache_clear()
    expected = completion.code_fingerprint()
    try:
        completion.code_fingerprint.cache_clear()
        monkeypatch.setattr(completion.os, "walk", reversed_walk)
        assert completion.code_fingerprint() == expected
    finally:
        monkeypatch.undo()
        completion.code_fingerprint.cache_clear()
