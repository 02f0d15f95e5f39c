"""The sandbox transport carries plain data only, and decoding never runs code."""

import json
import math
import struct

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from grader.sandbox import transport
from grader.sandbox.transport import Handle, MalformedFrame, Unsendable, pack, unpack

plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20) | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    | st.tuples(inner, inner),
    max_leaves=20,
)


@given(plain)
def test_plain_values_round_trip(value):
    assert unpack(pack(value)) == value


def test_special_floats_tuples_and_odd_dict_keys_round_trip():
    value = {"nan": float("nan"), "inf": (float("inf"), -math.inf), 3: "int key", ("a", 1): None, "$t": "reserved"}
    back = unpack(pack(value))
    assert math.isnan(back["nan"]) and back["inf"] == (math.inf, -math.inf)
    assert back[3] == "int key" and back[("a", 1)] is None and back["$t"] == "reserved"


def test_tensors_and_arrays_round_trip_with_dtype_and_shape():
    value = {
        "f32": torch.randn(3, 4),
        "bf16": torch.randn(2, 2).to(torch.bfloat16),
        "int": torch.arange(5),
        "view": torch.arange(10.0)[::2],  # a non-contiguous view of a bigger storage
        "array": np.arange(6, dtype=np.float32).reshape(2, 3),
        "scalar": np.float64(2.5),
    }
    back = unpack(pack(value))
    for key in ("f32", "bf16", "int", "view"):
        assert type(back[key]) is torch.Tensor
        assert back[key].dtype == value[key].dtype
        assert torch.equal(back[key], value[key])
    assert type(back["array"]) is np.ndarray and np.array_equal(back["array"], value["array"])
    assert back["scalar"] == 2.5 and isinstance(back["scalar"], np.float64)


def test_subclasses_arrive_as_their_plain_base_type():
    class Sneaky(torch.Tensor):
        def __eq__(self, other):
            return True

    class YesInt(int):
        def __eq__(self, other):
            return True

    class AgreeableArray(np.ndarray):
        def __eq__(self, other):
            return True

    back = unpack(pack([torch.zeros(2).as_subclass(Sneaky), YesInt(0), np.zeros(2).view(AgreeableArray), torch.nn.Parameter(torch.ones(1))]))
    assert [type(v) for v in back] == [torch.Tensor, int, np.ndarray, torch.Tensor]
    assert back[1] != 5 and not torch.equal(back[0], torch.ones(2))


def test_arbitrary_objects_are_refused_by_name():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    with pytest.raises(Unsendable, match="AlwaysEqual"):
        pack({"x": [AlwaysEqual()]})
    with pytest.raises(Unsendable, match="dtype object"):
        pack(np.array([object()]))


def test_deep_nesting_is_refused():
    value = []
    for _ in range(transport.MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(Unsendable, match="nested"):
        pack(value)


def frame(meta: dict | str) -> bytes:
    text = meta if isinstance(meta, str) else json.dumps(meta)
    body = text.encode()
    return transport.MAGIC + transport.HEADER.pack(len(body), 0, 0) + body


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"not a frame at all",
        frame({"$t": "pickle", "v": "gASV"}),  # unknown tags are refused, never interpreted
        frame({"$t": "tensor", "k": "t0"}),  # a tensor the frame does not carry
        frame({"$t": "float", "v": "1e999"}),
        frame("NaN"),  # bare NaN is not JSON
        frame("[" * 100_000 + "]" * 100_000),  # nesting that would exhaust the recursion limit
        transport.MAGIC + transport.HEADER.pack(10, 0, 0) + b"{}",  # lengths that do not add up
        transport.MAGIC + transport.HEADER.pack(2, 5, 0) + b"{}" + b"junk!",  # a corrupt safetensors blob
    ],
)
def test_malformed_frames_raise_malformed_frame(bad):
    with pytest.raises(MalformedFrame):
        unpack(bad)


def test_handles_round_trip_with_their_generation():
    back = unpack(pack({"model": Handle(3, "GPT", generation=2)}))["model"]
    assert isinstance(back, Handle) and (back.id, back.type_name, back.generation) == (3, "GPT", 2)


def test_frames_cross_a_pipe(tmp_path):
    import os

    r, w = os.pipe()
    data = pack({"x": torch.ones(3)})
    transport.write_frame(w, data)
    os.close(w)
    assert transport.read_frame(r) == data
    assert transport.read_frame(r) is None
    os.close(r)
    assert struct.calcsize("<Q") == 8
