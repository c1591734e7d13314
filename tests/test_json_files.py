"""The JSON text opsim writes: strict JSON (RFC 8259), which any reader takes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.output.files import json_ready, json_text, write_json
from tests.conftest import strict_json


def test_json_text_is_indented_by_two_with_a_final_newline_missing_numbers_null_and_numpy_numbers_plain():
    text = json_text({"a": [1, np.int64(2)], "b": float("nan"), "c": np.float32(0.5), "d": (np.bool_(True), None)})
    assert (
        text == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": null,\n  "c": 0.5,\n  "d": [\n    true,\n    null\n  ]\n}\n'
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (float("nan"), None),
        (float("inf"), None),
        (float("-inf"), None),
        (np.float64("nan"), None),
        (np.float32("-inf"), None),
        (np.float64(1e308), 1e308),  # the largest finite numbers stay
        (-np.finfo(np.float64).max, -1.7976931348623157e308),
        (0.0, 0.0),
        (np.int64(-7), -7),
        (np.uint8(255), 255),
        (np.bool_(False), False),
        (np.array([1.5, np.nan, np.inf]), [1.5, None, None]),
        ({"k": {"inner": [np.nan, (2, np.int32(3))]}}, {"k": {"inner": [None, [2, 3]]}}),
        ("NaN", "NaN"),  # a string is a string
        (None, None),
    ],
)
def test_json_ready_writes_a_missing_number_as_null_and_keeps_every_finite_one(value, written):
    ready = json_ready(value)
    assert ready == written
    assert type(ready) is type(written)  # plain Python: 2, not 2.0; False, not 0
    assert strict_json(json.dumps(ready, allow_nan=False)) == written


def test_write_json_writes_json_text(tmp_path):
    data = {"x": 1.5, "y": [np.int64(3)], "z": float("inf")}
    write_json(tmp_path / "f.json", data)
    text = (tmp_path / "f.json").read_text(encoding="utf-8")
    assert text == json_text(data)
    assert strict_json(text) == {"x": 1.5, "y": [3], "z": None}


def test_json_writer_writes_json_text(tmp_path):
    """The writer opsim-calibrate's and the lift's JSON files go through: json_text of its data, as write_json."""
    from sim.app.preflight import json_writer

    data = {"x": 1.5, "y": [np.int64(3)], "z": float("inf")}
    json_writer(data)(tmp_path / "f.json")
    text = (tmp_path / "f.json").read_text(encoding="utf-8")
    assert text == json_text(data)
    assert strict_json(text) == {"x": 1.5, "y": [3], "z": None}
