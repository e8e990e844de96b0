"""No points for the course's own answer: block the package functions that answer an exercise.

Each chapter's test module names, in `ANSWERS`, the package functions that answer each exercise
(`worldmodels.probe.probe_r2` answers ex5.2). While an exercise's tests run in the grading process,
`AnswerGate.block` swaps the code of those function objects for a gate: a call that comes straight
from the test module (the tests may compare with the course's implementation) runs the real
function; any other call (the learner's `probe_r2 = worldmodels.probe.probe_r2`, a wrapper around
it, `model.predict(...)` inside `imagine_plans`) is recorded and raises `AnswerUnavailable`. The
runner reports recorded calls and the grader scores the exercise 0 with a reason that names the
function. Because the code of the function *object* is swapped, every alias and wrapper is caught;
`copies` also finds functions the notebook built from an answer's code object (`types.FunctionType`).

Limit (docs/grading.md): this runs in the learner's process, so code that goes looking for the
grader's own objects (`gc`, frames) can get around it; the sandbox keeps such code from harming
anything but its own grade, the grader's source scan (scan.py) flags such code and finds pasted
copies of an answer, and answers nothing else needs are not in the student edition at all.
"""

import gc
import inspect
import sys
import types

from .checker import Namespace
from .registry import resolve


class AnswerUnavailable(BaseException):
    """Raised when the learner's code calls the course's answer to the exercise being graded.
    A BaseException, so `except Exception` in the learner's code does not hide it."""


_active = {}  # key -> (exercise, the real function's clone)
_allowed = frozenset()  # code objects that may call the real answers: the test module's
_calls = []  # keys called from elsewhere while blocked
_ids = {}  # id of a blocked function (and of what it wraps) -> key


def _call(key, args, kwargs):
    entry = _active.get(key)
    if entry is None:  # not blocked (should not happen: the gate is removed with the block)
        raise AnswerUnavailable(f"{key} is unavailable while grading")
    caller = sys._getframe(2).f_code  # 0: _call, 1: the gate standing in for the answer, 2: who called it
    if caller in _allowed:
        return entry[1](*args, **kwargs)
    if key not in _calls:
        _calls.append(key)
    raise AnswerUnavailable(f"{key} is the course's own answer to {entry[0]}: it cannot be used while "
                            f"{entry[0]} is graded; write the function yourself")


def _gate_code(func, key: str) -> types.CodeType:
    """A code object that forwards to _call(key, ...) with as many free variables as func's closure."""
    n = len(func.__closure__ or ())
    names = [f"_v{i}" for i in range(n)]
    body = (f"    {'; '.join(names)}\n" if names else "") + \
        f"    return __import__('worldmodels.grading.answers', fromlist=['_'])._call({key!r}, args, kwargs)\n"
    source = "def _outer():\n" + (f"    {' = '.join(names)} = None\n" if names else "") + \
        "    def gate(*args, **kwargs):\n" + "\n".join("    " + line for line in body.splitlines()) + \
        "\n    return gate\n"
    scope = {}
    exec(compile(source, f"<answer gate {key}>", "exec"), scope)
    return scope["_outer"]().__code__


def _clone(func):
    copy = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__)
    copy.__kwdefaults__ = func.__kwdefaults__
    copy.__dict__.update(func.__dict__)
    copy.__qualname__ = func.__qualname__
    return copy


def answer_function(dotted: str):
    """The plain Python function behind a dotted name (a method's function, a decorated function's outer one)."""
    obj = resolve(dotted)
    obj = getattr(obj, "__func__", obj)  # classmethod / staticmethod / bound method
    if not isinstance(obj, types.FunctionType):
        raise TypeError(f"{dotted} is not a Python function (got {type(obj).__name__}); ANSWERS lists functions")
    return obj


class AnswerGate:
    """Make the answers of one exercise unavailable to all but the test module's own code."""

    def __init__(self):
        self.blocked = []  # (function, original code)

    def block(self, exercise: str, names, allowed_codes) -> None:
        global _allowed
        self.unblock()
        _allowed = frozenset(allowed_codes)
        for name in names:
            try:
                func = answer_function(name)
            except (ImportError, AttributeError, KeyError, TypeError):  # `verify` reports it; grading goes on
                continue
            _active[name] = (exercise, _clone(func) if allowed_codes else None)  # no tests here: no way back
            _ids[id(func)] = _ids[id(inspect.unwrap(func))] = name
            self.blocked.append((func, func.__code__))
            func.__code__ = _gate_code(func, name)

    def unblock(self) -> list[str]:
        """Put the real code back; return the answers the learner's code called while blocked."""
        global _allowed
        for func, code in self.blocked:
            func.__code__ = code
        self.blocked = []
        _active.clear()
        _ids.clear()
        _allowed = frozenset()
        called = list(_calls)
        _calls.clear()
        return called


def _targets(value, depth: int = 0):
    """The functions a call of `value` may end up in without a Python frame of the notebook's in between:
    the value, a method's function, functools.partial's func, decorators' __wrapped__, a __call__."""
    if depth > 5:
        return
    yield value
    for attr in ("__func__", "func", "__wrapped__"):
        inner = getattr(value, attr, None) if not isinstance(value, type) else None
        if inner is not None and inner is not value:
            yield from _targets(inner, depth + 1)
    call = getattr(type(value), "__dict__", {}).get("__call__")
    if call is not None and not isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        yield from _targets(call, depth + 1)


def refuse_bound(value):
    """Called on each notebook variable a test fetches: refuse (and record) the course's answer held
    directly (`from worldmodels.probe import probe_r2`), through a method, functools.partial, a decorator
    or a callable object, since the test would then call it straight from its own code."""
    if not _ids:
        return value
    try:
        hits = [_ids[id(t)] for t in _targets(value) if id(t) in _ids]
    except Exception:  # an object whose attributes raise: not one of ours
        hits = []
    if hits:
        if hits[0] not in _calls:
            _calls.append(hits[0])
        exercise = _active[hits[0]][0]
        raise AnswerUnavailable(f"{hits[0]} is the course's own answer to {exercise}: it cannot be used while "
                                f"{exercise} is graded; write the function yourself")
    return value


def copies(names) -> list[str]:
    """Names among `names` whose code the notebook reused in a function of its own (types.FunctionType)."""
    wanted = {}
    for name in names:
        try:
            func = answer_function(name)
        except (ImportError, AttributeError, KeyError, TypeError):
            continue
        inner = inspect.unwrap(func)  # a decorator's wrapper code is shared by many functions: look inside
        wanted[inner.__code__] = (name, inner)
    found = []
    for obj in gc.get_objects():
        if type(obj) is types.FunctionType:
            hit = wanted.get(obj.__code__)
            if hit and obj is not hit[1] and hit[0] not in found:
                found.append(hit[0])
    return found


class GuardedNamespace(Namespace):
    """The notebook's variables as the tests see them while grading: the course's answer is refused."""

    def __getitem__(self, key):
        return refuse_bound(super().__getitem__(key))
