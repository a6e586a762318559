import io

import pytest
from flowy.artifacts.json_materializer import JsonMaterializer

VALUES = [
    {"a": 1, "b": [1.5, None, True, "x"]},
    (1, 2, (3, "four")),
    {1: "int key", (1, 2): "tuple key", "s": {"nested"}},
    frozenset({1, 2}),
    b"\x00\xffbytes",
    [],
    "",
    0,
    3.25,
    None,
    {"__flowy__": "a user key that looks like our tag"},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_round_trip_is_exact(value):
    m = JsonMaterializer()
    buf = io.BytesIO()
    meta = m.save(value, buf)
    buf.seek(0)
    back = m.load(buf, meta)
    assert back == value and type(back) is type(value)


def test_plain_values_stay_plain_json():
    buf = io.BytesIO()
    JsonMaterializer().save({"a": [1, 2]}, buf)
    assert buf.getvalue() == b'{"a":[1,2]}'


def test_refuses_non_builtin_content():
    assert not JsonMaterializer().accepts([object()])
    assert JsonMaterializer().accepts([1, {"a": (2,)}])
