"""Resuming a sweep from its folder, trusting nothing the folder says.

``opsim-report SWEEP --resume`` re-launches the sweep recorded in
``SWEEP/multirun.yaml``. Whoever can write to a shared sweep folder can write that
file, so a recorded command line is accepted only where it can do nothing but set
opsim's config (:func:`resume_argv`):

* task overrides: ``key=value`` with a key of opsim's config or one of its preset
  groups, parsed with Hydra's grammar; nothing under ``hydra`` and no ``_target_``.
  Their values are then checked against opsim's schema like any command line
  (:func:`sim.app.cli.check_overrides`);
* Hydra overrides: only :data:`LAUNCHERS` for ``hydra/launcher``, ``hydra/sweeper=opsim``
  or ``basic``, and ``hydra.launcher.n_jobs=N``; the sweep folder is the folder
  itself, whatever the file says;
* a recorded ``--config-dir`` (a study's folder) and ``--config-name`` (a plain file
  name): accepted only when the Hydra settings they compose to match opsim's own in
  everything that can run code or write elsewhere — callbacks, launcher, sweeper,
  logging, job environment, output folders (:func:`check_hydra_settings`) — and the
  primary config searches only ``file://`` folders (a ``pkg://`` entry imports a module).

Anything else is refused with one line naming the file and the override; nothing
is run. To resume with other settings, run the sweep's own command again with
``hydra.sweep.dir=SWEEP``: that command line is the user's own.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from sim.app.config import Config, compose, parse_overrides, quote_value, sweep_variants
from sim.base.errors import ConfigError, OpsimError, UsageError
from sim.output.folders import MULTIRUN_RECORD

__all__ = ["LAUNCHERS", "ResumeRefused", "check_hydra_settings", "resume_argv"]

#: Launchers a recorded sweep may name (their settings come from opsim's own config files).
LAUNCHERS = ("basic", "joblib", "ray_cluster")
#: Sweepers a recorded sweep may name.
SWEEPERS = ("opsim", "basic")
#: Config groups of opsim a task override may choose from.
GROUPS = ("population", "strategy")
#: Top-level keys of opsim's config.
TOP_KEYS = frozenset(f.name for f in dataclasses.fields(Config))
#: Hydra overrides opsim itself adds to every sweep; replaced on resume, never taken from the file.
OWN_HYDRA_KEYS = ("hydra.sweep.dir", "hydra.sweeper.prevalidated", "hydra.mode")
#: Parts of the composed Hydra settings a study may change: where the sweep goes (its
#: ``dir``; the folder being resumed replaces it), what it sweeps, and records of the run.
MAY_DIFFER = ("sweep.dir", "sweeper.params", "overrides", "runtime", "mode", "run", "searchpath")
MAY_DIFFER_JOB = ("name", "override_dirname", "id", "num", "config_name")
#: A config name: a file name of the config folder, nothing with a path in it.
CONFIG_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class ResumeRefused(UsageError):
    """The sweep folder's record asks for something resume does not run."""


def _refuse(spec: Path, what: str) -> ResumeRefused:
    return ResumeRefused(
        f"{spec}: {what}; resume runs only opsim's config keys and hydra/launcher="
        f"{'|'.join(LAUNCHERS)} (hydra.launcher.n_jobs); to resume with other settings, run the sweep's "
        f"own command again with hydra.sweep.dir={spec.parent}"
    )


def _task_override(spec: Path, text: Any) -> str:
    """A recorded task override, if it can only set opsim's config (its value is validated later)."""
    if not isinstance(text, str):
        raise _refuse(spec, f"recorded override {text!r} is not key=value text")
    try:
        (parsed,) = parse_overrides([text])
    except ConfigError as exc:
        raise _refuse(spec, f"recorded override {text!r} cannot be parsed ({exc.allowed})") from None
    key = parsed.key_or_group
    top = key.split(".")[0]
    if "_target_" in key or "/" in key or "@" in key or (top not in GROUPS and top not in TOP_KEYS):
        raise _refuse(spec, f"recorded override {text!r} is not an opsim config key")
    return text


def _hydra_override(spec: Path, text: Any) -> str | None:
    """A recorded Hydra override kept for the resume (None: opsim's own, replaced)."""
    if not isinstance(text, str):
        raise _refuse(spec, f"recorded override {text!r} is not key=value text")
    key, _, value = text.partition("=")
    if key in OWN_HYDRA_KEYS:
        return None
    if key == "hydra/launcher" and value in LAUNCHERS:
        return text
    if key == "hydra/sweeper" and value in SWEEPERS:
        return text
    if key == "hydra.launcher.n_jobs" and re.fullmatch(r"-?[0-9]+", value):
        return text
    raise _refuse(spec, f"recorded Hydra override {text!r} is not accepted on resume")


def _config_dir(spec: Path, hydra: dict[str, Any]) -> str | None:
    runtime = hydra.get("runtime") or {}
    dirs = [
        s.get("path")
        for s in runtime.get("config_sources") or []
        if isinstance(s, dict) and s.get("provider") == "command-line" and s.get("schema") == "file"
    ]
    if not dirs:
        return None
    folder = dirs[0]
    if len(dirs) > 1 or not isinstance(folder, str) or not Path(folder).is_dir():
        raise _refuse(spec, f"recorded --config-dir {folder!r} is not one existing folder")
    return folder


def _config_name(spec: Path, hydra: dict[str, Any]) -> str | None:
    name = (hydra.get("job") or {}).get("config_name")
    if name is None or name == "config":
        return None
    if not isinstance(name, str) or not CONFIG_NAME.fullmatch(name):
        raise _refuse(spec, f"recorded --config-name {name!r} is not a plain config name")
    return name


def _check_searchpath(spec: Path, folder: str | None, name: str | None) -> None:
    """The primary config's own ``hydra.searchpath`` may name folders (file://), never modules (pkg://)."""
    import yaml

    if folder is None:
        return
    primary = Path(folder) / f"{name or 'config'}.yaml"
    if not primary.is_file():
        return
    try:
        data = yaml.safe_load(primary.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise _refuse(spec, f"the recorded study config {primary} cannot be read ({exc})") from None
    paths = ((data or {}).get("hydra") or {}).get("searchpath") if isinstance(data, dict) else None
    for entry in paths or []:
        if not isinstance(entry, str) or not entry.startswith("file://"):
            raise _refuse(spec, f"the recorded study config {primary} searches {entry!r} (only file:// folders)")


def _without(node: dict[str, Any]) -> dict[str, Any]:
    """The Hydra settings less the parts that :data:`MAY_DIFFER`."""
    node = dict(node)
    for dotted in MAY_DIFFER:
        head, _, tail = dotted.partition(".")
        if not tail:
            node.pop(head, None)
        elif isinstance(node.get(head), dict):
            node[head] = {k: v for k, v in node[head].items() if k != tail}
    if isinstance(node.get("job"), dict):
        node["job"] = {k: v for k, v in node["job"].items() if k not in MAY_DIFFER_JOB}
    return node


def _first_difference(a: Any, b: Any, path: str = "hydra") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            found = _first_difference(a.get(key), b.get(key), f"{path}.{key}")
            if found:
                return found
        return None
    return None if a == b else path


def check_hydra_settings(
    spec: Path, task: Sequence[str], hydra_overrides: Sequence[str], folder: str | None, name: str | None
) -> None:
    """Refuse a study config whose Hydra settings differ from opsim's where they could run code or write elsewhere.

    Raises:
        ResumeRefused: Naming the first setting that differs.

    """
    if folder is None and name is None:
        return  # opsim's own config files: the overrides were checked already

    def settings(overrides: list[str]) -> Any:
        return compose(
            [*overrides, *hydra_overrides], config_name=name or "config", extra_dir=folder, with_hydra=True
        ).hydra

    try:
        want = _without(OmegaConf.to_container(compose(list(hydra_overrides), with_hydra=True).hydra, resolve=False))
        given = {parse_overrides([t])[0].key_or_group for t in task}
        params = settings(sweep_variants(list(task))[0]).sweeper.get("params") or {}
        declared = [_task_override(spec, f"{k}={v}") for k, v in params.items() if k not in given]
        # Only the preset a group override picks can bring Hydra settings (a ``@package _global_``
        # file); a config key's value cannot. So each swept preset is composed, not each value.
        picks = [o for o in [*task, *declared] if parse_overrides([o])[0].key_or_group in GROUPS]
        for variant in sweep_variants(picks):
            got = _without(OmegaConf.to_container(settings(variant), resolve=False))
            differs = _first_difference(got, want)
            if differs:
                raise _refuse(spec, f"the recorded study config sets {differs}, which opsim's own config does not")
    except ResumeRefused:
        raise
    except OpsimError as exc:
        raise _refuse(spec, f"the recorded study config does not compose ({exc})") from None


def resume_argv(root: str | Path) -> list[str]:
    """The ``opsim`` command line that resumes the sweep in ``root``, from its ``multirun.yaml``.

    Raises:
        ResumeRefused: When the record is missing, unreadable, or asks for anything
            beyond opsim's config (see the module docstring); nothing has run then.

    """
    import yaml

    root = Path(root).resolve()
    spec = root / MULTIRUN_RECORD
    if not spec.is_file():
        raise ResumeRefused(f"{root}: no multirun.yaml, not a sweep folder")
    try:
        data = yaml.safe_load(spec.read_text())
        hydra = data["hydra"]
        overrides = hydra["overrides"]
        task = list(overrides["task"] or [])
        hydra_recorded = list(overrides.get("hydra") or [])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise _refuse(spec, f"not a readable sweep record ({type(exc).__name__})") from None
    task = [_task_override(spec, t) for t in task]
    kept = [k for k in (_hydra_override(spec, h) for h in hydra_recorded) if k is not None]
    folder = _config_dir(spec, hydra)
    name = _config_name(spec, hydra)
    _check_searchpath(spec, folder, name)
    check_hydra_settings(spec, task, kept, folder, name)
    argv = ["-m", *task, "hydra.sweep.dir=" + quote_value(str(root)), *kept]
    if folder is not None:
        argv += ["--config-dir", folder]
    if name is not None:
        argv += ["--config-name", name]
    return argv
