"""fastjson.loads gives what json.loads gives, for every document json accepts
whose integers fit in 64 bits — including the ones orjson refuses and our
records can hold."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera import fastjson

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_same_values_as_the_standard_library(value: object) -> None:
    raw = json.dumps(value)
    want = json.dumps(json.loads(raw))  # dumped again: an int read as a float shows
    assert json.dumps(fastjson.loads(raw.encode())) == want
    assert json.dumps(fastjson.loads(raw)) == want


@pytest.mark.parametrize(
    "raw",
    [
        b'{"key":"bad-\\udcff-key"}',  # a lone surrogate: a key that is not UTF-8
        b'{"x":1e400}',  # a float past the double range: json says inf
        b'{"x":NaN}',
    ],
)
def test_documents_orjson_refuses_take_the_standard_path(raw: bytes) -> None:
    got, want = fastjson.loads(raw), json.loads(raw)
    if "NaN" in raw.decode():
        assert math.isnan(got["x"]) and math.isnan(want["x"])
    else:
        assert got == want and type(got) is type(want)


def test_invalid_json_still_raises_a_value_error() -> None:
    with pytest.raises(ValueError):
        fastjson.loads(b'{"unterminated": ')
