"""The JSON text opsim writes."""

from __future__ import annotations

import json

import numpy as np

from sim.output.files import json_text, write_json


def test_json_text_is_indented_by_two_with_a_final_newline_nan_kept_and_numpy_numbers_as_floats():
    text = json_text({"a": [1, np.int64(2)], "b": float("nan"), "c": np.float32(0.5)})
    assert text == '{\n  "a": [\n    1,\n    2.0\n  ],\n  "b": NaN,\n  "c": 0.5\n}\n'


def test_write_json_writes_json_text(tmp_path):
    data = {"x": 1.5, "y": [np.int64(3)], "z": float("inf")}
    write_json(tmp_path / "f.json", data)
    text = (tmp_path / "f.json").read_text(encoding="utf-8")
    assert text == json_text(data)
    assert json.loads(text) == {"x": 1.5, "y": [3.0], "z": float("inf")}
