"""Plain-data transport between the grader and a sandbox worker.

A message is one frame: a JSON tree plus two safetensors blobs (torch tensors, numpy arrays).
Nothing in a frame can run code when it is read: JSON decodes to plain Python values,
safetensors decodes to plain tensors and arrays, and every other type is refused by name.
This is why the grader never unpickles what a submission produced.

The module is used on both sides of the pipe and is copied into the worker's runtime folder,
so it imports nothing from the grader. torch and numpy are imported only when a frame holds
tensors or arrays, which keeps answer-only assignments free of the torch import.

Frame layout: MAGIC, three little-endian u64 lengths (json, torch blob, numpy blob), the bytes.
"""

from __future__ import annotations

import base64
import json
import math
import os
import struct
import sys

MAGIC = b"AGT1"
HEADER = struct.Struct("<QQQ")
TAG = "$t"
MAX_DEPTH = 64
DEFAULT_MAX_FRAME_BYTES = 4 << 30


class Unsendable(TypeError):
    """A value that cannot cross the sandbox boundary as plain data."""


class MalformedFrame(ValueError):
    """Bytes that do not decode to a valid frame."""


class Handle:
    """A reference to an object that stays inside the worker (a loaded model, say)."""

    __slots__ = ("id", "type_name", "generation")

    def __init__(self, id: int, type_name: str = "", generation: int = 0):
        self.id = id
        self.type_name = type_name
        self.generation = generation

    def __repr__(self) -> str:
        return f"<handle {self.id} to a {self.type_name or 'worker object'}>"


def _qualname(obj) -> str:
    cls = type(obj)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module == "builtins" else f"{module}.{name}"


# ---------------------------------------------------------------------------------------
# Encoding (both sides)
# ---------------------------------------------------------------------------------------


class _Encoder:
    def __init__(self):
        self.tensors: dict = {}
        self.arrays: dict = {}
        self._seen_storages: set = set()

    def encode(self, x, depth: int = 0, where: str = "result"):
        if depth > MAX_DEPTH:
            raise Unsendable(f"{where} is nested more than {MAX_DEPTH} levels deep")
        cls = type(x)
        if x is None or cls is bool or cls is str:
            return x
        if cls is int:
            return x
        if cls is float:
            return x if math.isfinite(x) else {TAG: "float", "v": repr(x)}
        if cls is list:
            return [self.encode(v, depth + 1, f"{where}[{i}]") for i, v in enumerate(x)]
        if cls is tuple:
            return {TAG: "tuple", "v": [self.encode(v, depth + 1, f"{where}[{i}]") for i, v in enumerate(x)]}
        if cls is dict:
            if all(type(k) is str for k in x) and TAG not in x:
                return {k: self.encode(v, depth + 1, f"{where}[{k!r}]") for k, v in x.items()}
            return {
                TAG: "dict",
                "v": [[self.encode(k, depth + 1, f"{where} key"), self.encode(v, depth + 1, f"{where}[{k!r}]")] for k, v in x.items()],
            }
        if cls is Handle:
            return {TAG: "handle", "id": x.id, "gen": x.generation, "type": x.type_name}
        if cls is bytes:
            return {TAG: "bytes", "v": base64.b64encode(x).decode("ascii")}
        if cls is complex:
            return {TAG: "complex", "v": [repr(x.real), repr(x.imag)]}

        torch = sys.modules.get("torch")
        if torch is not None and isinstance(x, torch.Tensor):
            return self._encode_tensor(torch, x, where)
        np = sys.modules.get("numpy")
        if np is not None and isinstance(x, np.ndarray):
            return self._encode_array(np, x, where)
        if np is not None and isinstance(x, np.generic):
            return self._encode_numpy_scalar(np, x, where)

        # Subclasses of plain types are sent as their base value: what arrives is plain.
        if isinstance(x, int):
            return int.__int__(x)
        if isinstance(x, float):
            return self.encode(float.__float__(x), depth, where)
        if isinstance(x, str):
            return str.__str__(x)
        if isinstance(x, list):
            return self.encode(list(list.__iter__(x)), depth, where)
        if isinstance(x, tuple):
            return self.encode(tuple(tuple.__iter__(x)), depth, where)
        if isinstance(x, dict):
            return self.encode(dict(dict.items(x)), depth, where)
        raise Unsendable(
            f"{where} is an object of type {_qualname(x)}, which cannot be sent back to the grader: "
            "only tensors, numpy arrays, numbers, strings, bytes, None, lists, tuples and dicts can"
        )

    def _encode_tensor(self, torch, x, where):
        if x.layout != torch.strided:
            raise Unsendable(f"{where} is a {x.layout} tensor; return a dense tensor (x.to_dense())")
        if x.device.type == "meta":
            raise Unsendable(f"{where} is a tensor on the meta device and holds no values")
        device = str(x.device)
        requires_grad = bool(x.requires_grad)
        t = x.detach()
        if type(t) is not torch.Tensor:
            t = t.as_subclass(torch.Tensor)
        t = t.to("cpu").contiguous()
        storage = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if storage in self._seen_storages or t.untyped_storage().nbytes() != t.numel() * t.element_size():
            t = t.clone()
        self._seen_storages.add((t.untyped_storage().data_ptr(), t.untyped_storage().nbytes()))
        key = f"t{len(self.tensors)}"
        self.tensors[key] = t
        return {TAG: "tensor", "k": key, "device": device, "grad": requires_grad}

    def _encode_array(self, np, x, where):
        if x.dtype.kind not in "biufc":
            raise Unsendable(f"{where} is a numpy array of dtype {x.dtype}; only numeric and bool arrays can be sent")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(np.asarray(x))
        return {TAG: "ndarray", "k": key}

    def _encode_numpy_scalar(self, np, x, where):
        if np.dtype(type(x)).kind not in "biufc":
            raise Unsendable(f"{where} is a numpy scalar of type {type(x).__name__}, which cannot be sent")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.asarray(x).reshape(1)
        return {TAG: "npscalar", "k": key}


def pack(value, where: str = "the value") -> bytes:
    """Encode a plain-data value into one frame; `where` names it in error messages."""
    enc = _Encoder()
    return _frame(enc, enc.encode(value, 0, where))


def pack_reply(request_id, value) -> bytes:
    """The worker's answer to a call that returned `value`."""
    enc = _Encoder()
    return _frame(enc, {"id": request_id, "ok": True, "value": enc.encode(value, 0, "the returned value")})


def _frame(enc: "_Encoder", tree) -> bytes:
    meta = json.dumps(tree, allow_nan=False, separators=(",", ":")).encode("utf-8")
    torch_blob = b""
    numpy_blob = b""
    if enc.tensors:
        from safetensors.torch import save as save_torch

        torch_blob = save_torch(enc.tensors)
    if enc.arrays:
        from safetensors.numpy import save as save_numpy

        numpy_blob = save_numpy(enc.arrays)
    return MAGIC + HEADER.pack(len(meta), len(torch_blob), len(numpy_blob)) + meta + torch_blob + numpy_blob


# ---------------------------------------------------------------------------------------
# Decoding (the grader side decodes untrusted frames; keep it strict)
# ---------------------------------------------------------------------------------------


def unpack(frame: bytes, resolve_handle=None):
    """Decode a frame into plain Python values, tensors and arrays.

    resolve_handle(id, generation) maps handle references to objects; by default they decode
    to Handle values. Raises MalformedFrame for anything that is not a valid frame.
    """
    try:
        if frame[:4] != MAGIC or len(frame) < 4 + HEADER.size:
            raise MalformedFrame("not a sandbox frame")
        n_meta, n_torch, n_numpy = HEADER.unpack_from(frame, 4)
        start = 4 + HEADER.size
        if start + n_meta + n_torch + n_numpy != len(frame):
            raise MalformedFrame("frame lengths do not add up")
        meta = frame[start : start + n_meta]
        torch_blob = frame[start + n_meta : start + n_meta + n_torch]
        numpy_blob = frame[start + n_meta + n_torch :]
        tree = json.loads(meta.decode("utf-8"), parse_constant=_refuse_constant)
        tensors = {}
        arrays = {}
        if n_torch:
            from safetensors.torch import load as load_torch

            tensors = load_torch(bytes(torch_blob))
        if n_numpy:
            from safetensors.numpy import load as load_numpy

            arrays = load_numpy(bytes(numpy_blob))
        return _Decoder(tensors, arrays, resolve_handle).decode(tree, 0)
    except MalformedFrame:
        raise
    except RecursionError:
        raise MalformedFrame("the value is nested too deeply") from None
    except Exception as exc:  # anything else the bytes provoke
        raise MalformedFrame(f"{type(exc).__name__}: {exc}") from None


def _refuse_constant(name):
    raise MalformedFrame(f"bare {name} in JSON")


class _Decoder:
    def __init__(self, tensors, arrays, resolve_handle):
        self.tensors = tensors
        self.arrays = arrays
        self.resolve_handle = resolve_handle

    def decode(self, x, depth):
        if depth > MAX_DEPTH + 2:
            raise MalformedFrame("the value is nested too deeply")
        if isinstance(x, list):
            return [self.decode(v, depth + 1) for v in x]
        if not isinstance(x, dict):
            return x  # json gives only None, bool, int, float, str here
        if TAG not in x:
            return {k: self.decode(v, depth + 1) for k, v in x.items()}
        tag = x[TAG]
        if tag == "tuple":
            return tuple(self.decode(v, depth + 1) for v in _list(x["v"]))
        if tag == "dict":
            out = {}
            for pair in _list(x["v"]):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise MalformedFrame("bad dict entry")
                key = self.decode(pair[0], depth + 1)
                try:
                    hash(key)
                except TypeError:
                    raise MalformedFrame("unhashable dict key") from None
                out[key] = self.decode(pair[1], depth + 1)
            return out
        if tag == "float":
            text = x["v"]
            if text not in ("nan", "inf", "-inf"):
                raise MalformedFrame(f"bad float {text!r}")
            return float(text)
        if tag == "complex":
            re, im = _list(x["v"])
            return complex(float(re), float(im))
        if tag == "bytes":
            return base64.b64decode(x["v"], validate=True)
        if tag == "tensor":
            t = self.tensors[x["k"]]
            device = str(x.get("device", "cpu"))
            if device != "cpu" or x.get("grad"):
                # Where it lived and whether it tracked gradients, for the feedback ladder.
                t.sandbox_device = device
                t.sandbox_requires_grad = bool(x.get("grad"))
            return t
        if tag == "ndarray":
            return self.arrays[x["k"]]
        if tag == "npscalar":
            return self.arrays[x["k"]][0]
        if tag == "handle":
            hid, gen = x["id"], x.get("gen", 0)
            if type(hid) is not int or type(gen) is not int:
                raise MalformedFrame("bad handle")
            if self.resolve_handle is not None:
                return self.resolve_handle(hid, gen)
            return Handle(hid, str(x.get("type", ""))[:200], gen)
        raise MalformedFrame(f"unknown tag {tag!r}")


def _list(v):
    if not isinstance(v, list):
        raise MalformedFrame("expected a list")
    return v


# ---------------------------------------------------------------------------------------
# Frames over file descriptors
# ---------------------------------------------------------------------------------------


def write_frame(fd: int, frame: bytes) -> None:
    """Write one length-prefixed frame to fd."""
    view = memoryview(struct.pack("<Q", len(frame)) + frame)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def read_exact(fd: int, n: int) -> bytes | None:
    """Read n bytes from fd; None on a clean end of file before the first byte."""
    chunks = []
    remaining = n
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            if remaining == n:
                return None
            raise MalformedFrame("the stream ended inside a frame")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes | None:
    """Read one frame from fd (blocking); None at end of file."""
    head = read_exact(fd, 8)
    if head is None:
        return None
    (length,) = struct.unpack("<Q", head)
    if length > max_bytes:
        raise MalformedFrame(f"a frame of {length} bytes is larger than the limit of {max_bytes}")
    data = read_exact(fd, length)
    if data is None:
        raise MalformedFrame("the stream ended inside a frame")
    return data
