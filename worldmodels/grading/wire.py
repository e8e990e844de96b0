"""Plain data between the grader and a student's process: no objects, no pickles.

`encode(value)` turns numbers, strings, None, lists, tuples, dicts, slices, NumPy arrays and scalars
and torch tensors into JSON-ready data (arrays as `.npy` bytes in base64, written and read with
`allow_pickle=False`); anything else is refused with `Unsendable`. `decode` is its inverse and builds
only those types. An exception travels as its message and its nearest built-in class (`raised` /
`reraise`), so a test's `except ValueError` still sees the learner's `ValueError`.

Two more kinds travel from the grader to the student's process only (`encode(..., outgoing=Outgoing(...))`,
`decode(..., builder=...)`; the grader's `decode` refuses them in a reply):
- a torch module of the course (or a `torch.nn.Linear`): its class name, its config (a frozen dataclass
  of the course) and its weights and gradients as tensors; the student's process builds a fresh one of
  the same class from the student edition and loads them (`$module`);
- a helper of a public test module (a function or a class defined at its top level, or an instance of
  such a class with plain-data attributes), by name (`$helper`): the student's process finds it in the
  same public module (which every student has), loaded from the source the grader sent. No code of a
  hidden test, and no code the grader did not read from the public tests, ever travels.
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


class Outgoing:
    """What the grader's `encode` may send besides plain data: `helper(obj)` names an object of a public
    test module ([chapter, name] or None); `modules` collects the torch modules sent, in order."""

    def __init__(self, helper=None):
        self.helper, self.modules = helper or (lambda obj: None), []


def _dotted(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _module(value, budget, outgoing) -> dict:
    """A torch module as data: how to build it and its state (weights, buffers, gradients)."""
    import dataclasses

    torch = _torch()
    config = getattr(value, "config", None)
    if type(value) is torch.nn.Linear:
        init = {"args": encode([value.in_features, value.out_features], budget),
                "kwargs": encode({"bias": value.bias is not None}, budget)}
    elif type(value).__module__.startswith("worldmodels.") and dataclasses.is_dataclass(config) and \
            type(config).__module__.startswith("worldmodels."):
        fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
        init = {"config": _dotted(type(config)), "fields": encode(fields, budget)}
    else:
        raise Unsendable(f"a {type(value).__name__} cannot be rebuilt in the student's process (only the "
                         f"course's modules with a config, and torch.nn.Linear)")
    outgoing.modules.append(value)
    return {"$module": _dotted(type(value)), "init": init, **module_state(value, budget)}


def module_state(module, budget=None) -> dict:
    """A module's state_dict, gradients and frozen parameters as plain data."""
    params = dict(module.named_parameters())
    return {"state": encode(dict(module.state_dict()), budget),
            "grads": encode({k: p.grad for k, p in params.items() if p.grad is not None}, budget),
            "frozen": [k for k, p in params.items() if not p.requires_grad]}


def load_state(module, data: dict) -> None:
    """Put a `module_state` (decoded here, plain data only) into `module`, checking every shape."""
    torch = _torch()
    state, grads = decode(data.get("state")), decode(data.get("grads"))
    if not isinstance(state, dict) or not isinstance(grads, dict):
        raise ValueError("a module's state must be dicts of tensors")
    own, params = module.state_dict(), dict(module.named_parameters())
    for name, tensor in list(state.items()) + list(grads.items()):
        if name not in own or not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != tuple(own[name].shape):
            raise ValueError(f"the model's {name!r} came back with another shape or type")
    with torch.no_grad():
        for name, tensor in state.items():
            own[name].copy_(tensor)
    for name, p in params.items():
        p.grad = grads[name].detach().to(p.dtype).clone() if name in grads else None
        p.requires_grad_(name not in set(data.get("frozen") or ()))


def encode(value, _budget=None, outgoing: Outgoing | None = None):
    budget = _budget if _budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0:
        raise Unsendable(f"more than {MAX_ITEMS} items")
    if outgoing is not None and value is not None and type(value) not in (bool, int, float, str):
        torch = _torch()
        if torch is not None and isinstance(value, torch.nn.Module):
            return _module(value, budget, outgoing)
        name = outgoing.helper(value) if callable(value) else outgoing.helper(type(value))
        if name is not None and callable(value):
            return {"$helper": list(name)}
        if name is not None:  # an instance of a test's helper class: its attributes as data
            return {"$helper": list(name), "attrs": encode(dict(vars(value)), budget, outgoing)}
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if type(value) in (list, tuple):
        items = [encode(v, budget, outgoing) for v in value]
        return items if type(value) is list else {"$tuple": items}
    if type(value) is dict:
        return {"$dict": [[encode(k, budget, outgoing), encode(v, budget, outgoing)] for k, v in value.items()]}
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


def decode(data, builder=None):
    """Plain data back into values; `builder` (the student's process only) builds `$module` and `$helper`."""
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(v, builder) for v in data]
    if type(data) is not dict or not data:
        raise ValueError(f"not plain data: {str(data)[:80]}")
    (tag, body), = list(data.items())[:1]
    if tag in ("$module", "$helper"):
        if builder is None:
            raise ValueError(f"not plain data: {tag} travels only from the grader to the student's process")
        return builder.module(data) if tag == "$module" else builder.helper(data)
    if len(data) not in (1, 3):
        raise ValueError(f"not plain data: {str(data)[:80]}")
    if tag == "$tuple":
        return tuple(decode(v, builder) for v in body)
    if tag == "$dict":
        return {decode(k, builder): decode(v, builder) for k, v in body}
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
