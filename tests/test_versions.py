"""meta.json's versions: each distribution's as importlib.metadata gives it, read from the header lines alone."""

from __future__ import annotations

import platform
from importlib import metadata

import pytest

from sim.output import versions


def test_every_recorded_version_is_the_one_importlib_metadata_gives():
    recorded = versions.installed_versions()
    assert list(recorded) == ["python", *versions.RECORDED_DISTRIBUTIONS]
    assert recorded["python"] == platform.python_version()
    for name in versions.RECORDED_DISTRIBUTIONS:
        assert recorded[name] == metadata.version(name), name


class _Distribution:
    """A distribution whose metadata files are the texts given (None: no such file)."""

    def __init__(self, files: dict[str, str], version: str = "from the email parser") -> None:
        self.files, self.version = files, version

    def read_text(self, name: str) -> str | None:
        return self.files.get(name)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"METADATA": "Metadata-Version: 2.1\nName: a\nVersion: 1.2.3\n\nVersion: 9.9 in the description\n"}, "1.2.3"),
        ({"METADATA": "Name: a\nVersion:   2.0.post1  \nSummary: s\n"}, "2.0.post1"),  # spaces around: stripped
        ({"PKG-INFO": "Name: a\nVersion: 0.4\n"}, "0.4"),  # an egg's file when there is no METADATA
        ({"METADATA": "Name: a\n\nVersion: 9.9 in the description\n"}, "from the email parser"),  # none in the header
        ({"METADATA": "Name: a\nX-Version: 5\n"}, "from the email parser"),  # another field that ends in Version
        ({}, "from the email parser"),
    ],
)
def test_the_version_is_the_header_field_or_else_what_metadata_parses(monkeypatch, files, expected):
    monkeypatch.setattr(versions.metadata, "distribution", lambda name: _Distribution(files))
    assert versions._version("a") == expected


def test_a_distribution_not_installed_is_recorded_as_such(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(versions.metadata, "distribution", missing)
    versions._lookup.cache_clear()
    try:
        recorded = versions.installed_versions()
    finally:
        versions._lookup.cache_clear()
    assert set(recorded.values()) == {platform.python_version(), versions.NOT_INSTALLED}
