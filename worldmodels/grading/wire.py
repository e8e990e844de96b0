"""Plain data between the grader and a student's process: no objects, no pickles.

`encode(value)` turns numbers, strings, None, lists, tuples, dicts, slices, NumPy arrays and scalars
and torch tensors into JSON-ready data (arrays as `.npy` bytes in base64, written and read with
`allow_pickle=False`); anything else is refused with `Unsendable`. `decode` is its inverse and builds
only those types. An exception travels as its message and its nearest built-in class (`raised` /
`reraise`), so a test's `except ValueError` still sees the learner's `ValueError`.
"""

import base64
import builtins
import io
import math
import re

import numpy as np

MAX_ITEMS = 1_000_000  # elements of lists, tuples and dicts in one message, all levels together


class Unsendable(TypeError):
    """A value that is not plain data (a function, a model, an object of the learner's class...)."""


def _array(a: np.ndarray) -> str:
    if a.dtype.hasobject:
        raise Unsendable(f"an array of Python objects (dtype {a.dtype}) is not plain data")
    buffer = io.BytesIO()
    np.save(buffer, a, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _unarray(text: str) -> np.ndarray:
    return np.load(io.BytesIO(base64.b64decode(text, validate=True)), allow_pickle=False)


def encode(value, _budget=None):
    budget = _budget if _budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0:
        raise Unsendable(f"more than {MAX_ITEMS} items")
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if type(value) in (list, tuple):
        items = [encode(v, budget) for v in value]
        return items if type(value) is list else {"$tuple": items}
    if type(value) is dict:
        return {"$dict": [[encode(k, budget), encode(v, budget)] for k, v in value.items()]}
    if type(value) is slice:
        return {"$slice": [encode(value.start, budget), encode(value.stop, budget), encode(value.step, budget)]}
    if type(value) is complex:
        return {"$complex": [repr(value.real), repr(value.imag)]}
    if isinstance(value, np.generic) and type(value).__module__ == "numpy":
        return {"$scalar": _array(np.asarray(value))}
    if type(value) is np.ndarray:
        return {"$array": _array(value)}
    torch = _torch()
    if torch is not None and type(value) in (torch.Tensor, torch.nn.Parameter):
        t = value.detach().cpu()
        return {"$tensor": _array(t.numpy() if t.dtype != torch.bfloat16 else t.float().numpy()),
                "dtype": str(t.dtype).removeprefix("torch."), "grad": bool(value.requires_grad)}
    if torch is not None and type(value) is torch.Size:
        return {"$size": list(value)}
    raise Unsendable(f"a {type(value).__name__} is not plain data (numbers, strings, arrays, tensors, "
                     f"lists, tuples, dicts)")


def _torch():
    import sys

    return sys.modules.get("torch")


def decode(data):
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(v) for v in data]
    if type(data) is not dict or len(data) not in (1, 3):
        raise ValueError(f"not plain data: {str(data)[:80]}")
    (tag, body), = list(data.items())[:1]
    if tag == "$tuple":
        return tuple(decode(v) for v in body)
    if tag == "$dict":
        return {decode(k): decode(v) for k, v in body}
    if tag == "$slice":
        return slice(*(decode(v) for v in body))
    if tag == "$float":
        return float(body)
    if tag == "$complex":
        return complex(float(body[0]), float(body[1]))
    if tag == "$scalar":
        return _unarray(body)[()]
    if tag == "$array":
        return _unarray(body)
    if tag == "$tensor":
        import torch

        dtype = getattr(torch, str(data["dtype"]))
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"not a torch dtype: {data['dtype']!r}")
        return torch.from_numpy(_unarray(body).copy()).to(dtype).requires_grad_(bool(data["grad"]))
    if tag == "$size":
        import torch

        return torch.Size([int(v) for v in body])
    raise ValueError(f"unknown tag {tag!r}")


def raised(error: BaseException) -> dict:
    """An exception as data: its class name, its nearest built-in class, its message."""
    base = next((c.__name__ for c in type(error).__mro__ if c.__module__ == "builtins"), "Exception")
    return {"$raise": type(error).__name__[:60], "base": base, "message": str(error)[:2000]}


def reraise(data: dict) -> BaseException:
    """The exception to raise in the grader for `raised(...)` data: a fresh instance of the built-in
    class when it is an ordinary Exception (ValueError, NotImplementedError, ...), else an Exception
    named like the learner's (SystemExit, a class of the notebook's)."""
    name, base, message = str(data.get("$raise")), str(data.get("base")), str(data.get("message", ""))
    cls = getattr(builtins, base, None)
    ok = isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, (StopIteration,))
    if ok and name == base:
        return cls(message)
    label = re.sub(r"\W", "", name)[:60] or "Exception"
    return type(label, (cls if ok else Exception,), {})(message)
