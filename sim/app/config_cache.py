"""Composed configs kept for the process: composing again costs a copy, not a Hydra composition.

Hydra composes a config by reading every YAML file of the defaults list, deep-copying
the structured schema nodes of its ConfigStore and merging them: 0.1–0.2 s a call on a
busy 2-core machine, for every model a ``mesa.batch_run`` builds, every swept value
``opsim`` checks and every preset the calibrator or the explorer loads. What a
composition reads is small and rarely changes, so :class:`ComposeCache` keeps each
result under a key made of everything it depends on:

* the overrides, the primary config's name, and the folders searched: those the call
  names, and those an earlier composition of the same call found on its own (a
  ``hydra.searchpath`` written in a config file names folders no call does; a preset
  there that is edited is composed again too);
* the content of every YAML file under those folders (a BLAKE2 digest: a preset that
  is edited is composed again, whatever its modification time says);
* the ConfigStore's nodes, by content (a node stored again with other content counts as a
  change; a ConfigStore restored from a pickle, as Hydra's joblib launcher does before
  every job, does not);
* the working directory and Hydra's version base, which Hydra writes into the
  ``hydra`` node.

Every hit is a deep copy of the kept config, so callers may change what they get
without changing what the next caller gets. Failed compositions are not kept (their
error is raised again, with the same one-line message, on the next call).
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

__all__ = ["COMPOSE_CACHE_SIZE", "ComposeCache", "config_files_digest", "store_digest"]

#: Composed configs kept (least recently used dropped first): a sweep's checked values,
#: a batch run's parameter sets and the presets of a session fit easily.
COMPOSE_CACHE_SIZE = 256
#: Files of a config folder that a composition may read.
CONFIG_SUFFIXES = (".yaml", ".yml")


def config_files_digest(folders: Iterable[str | os.PathLike[str]]) -> str:
    """A digest of the names and contents of every YAML file under ``folders`` (hidden folders skipped)."""
    digest = hashlib.blake2b(digest_size=16)
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.endswith(CONFIG_SUFFIXES):
                    continue
                path = Path(root, name)
                try:
                    content = path.read_bytes()
                except OSError:  # vanished or unreadable: Hydra will say so when it composes
                    content = b"\0unreadable"
                digest.update(str(path).encode() + b"\0" + len(content).to_bytes(8, "little") + content)
    return digest.hexdigest()


#: Content digests of ConfigStore nodes seen lately, by ``id``; each entry holds its node, so
#: the ``id`` cannot be reused by another object while the entry exists.
_NODE_DIGESTS: OrderedDict[int, tuple[Any, str]] = OrderedDict()
#: Node digests kept (a few per composition's store; the oldest dropped first).
NODE_DIGESTS_KEPT = 256


def store_digest() -> tuple[tuple[str, str], ...]:
    """Every node of Hydra's ConfigStore, by path and a digest of its content.

    By content, not identity: Hydra's joblib launcher restores the ConfigStore in its
    worker from a pickle before every job, so the nodes are new objects each time while
    their content is the same, and a key by identity made every job compose anew. A node's
    digest (its YAML, group, package and provider) is computed once per node object.
    """
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    found: list[tuple[str, str]] = []

    def digest_of(node: Any) -> str:
        kept = _NODE_DIGESTS.get(id(node))
        if kept is not None and kept[0] is node:
            _NODE_DIGESTS.move_to_end(id(node))
            return kept[1]
        content = OmegaConf.to_yaml(node.node) + repr((node.group, node.package, node.provider))
        digest = hashlib.blake2b(content.encode(), digest_size=16).hexdigest()
        _NODE_DIGESTS[id(node)] = (node, digest)
        while len(_NODE_DIGESTS) > NODE_DIGESTS_KEPT:
            _NODE_DIGESTS.popitem(last=False)
        return digest

    def walk(node: Any, path: str) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{path}{key}/")
            else:
                found.append((path + key, digest_of(value)))

    walk(ConfigStore.instance().repo, "")
    return tuple(sorted(found))


class ComposeCache:
    """Composed configs by everything their composition read (see the module docstring).

    Args:
        maxsize: Configs kept; the least recently used one is dropped first.

    """

    def __init__(self, maxsize: int = COMPOSE_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, DictConfig] = OrderedDict()
        self._folders: OrderedDict[Hashable, tuple[Path, ...]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def key(self, call: Hashable, folders: Iterable[str | os.PathLike[str]]) -> Hashable:
        """The cache key of a composition: its arguments (``call``) and what it reads from ``folders`` and Hydra."""
        from hydra import version

        return (call, config_files_digest(folders), store_digest(), os.getcwd(), str(version.getbase()))

    def folders_searched(self, call: Hashable) -> tuple[Path, ...]:
        """The folders the last composition of ``call`` searched (for its key: their files may change)."""
        return self._folders.get(call, ())

    def note_folders_searched(self, call: Hashable, folders: Iterable[str | os.PathLike[str]]) -> None:
        """Remember the folders a composition of ``call`` searched (as many calls are remembered as configs kept)."""
        self._folders[call] = tuple(Path(folder) for folder in folders)
        self._folders.move_to_end(call)
        while len(self._folders) > self.maxsize:
            self._folders.popitem(last=False)

    def get(self, key: Hashable) -> DictConfig | None:
        """A private copy of the config kept under ``key``, or None."""
        kept = self._entries.get(key)
        if kept is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return copy.deepcopy(kept)

    def put(self, key: Hashable, cfg: DictConfig) -> DictConfig:
        """Keep a copy of ``cfg`` under ``key``; return ``cfg`` itself (the caller's to change)."""
        self._entries[key] = copy.deepcopy(cfg)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return cfg

    def get_or_compose(self, key: Hashable, compose: Callable[[], DictConfig]) -> DictConfig:
        """The kept config for ``key`` (a copy), or ``compose()``'s, kept for next time."""
        found = self.get(key)
        return found if found is not None else self.put(key, compose())

    def clear(self) -> None:
        """Forget every kept config (and the folders their compositions searched)."""
        self._entries.clear()
        self._folders.clear()

    def __len__(self) -> int:
        return len(self._entries)
