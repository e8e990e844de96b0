"""Undo what a notebook did to imported modules before the grading tests run, and give the tests a view
of the modules that the notebook's code cannot rebind.

Student code shares the grading process with the tests (they must call its functions directly), so
it can rebind attributes of modules the tests rely on: `np.allclose = lambda *a, **k: True`,
`worldmodels.grading.run_test = ...`, `builtins.abs = ...`, a fake entry in `sys.modules`, or the
code of a function (`f.__code__ = ...`). `ModuleGuard` remembers, before the notebook runs, every
loaded module object and the value of each of its attributes (and the code and defaults of the
functions of the watched packages and the methods of the course's classes), and `restore()` puts
back whatever was changed, along with a few process-wide settings (sys.path, the recursion limit,
os.environ, NumPy's error handling, torch's default dtype and grad mode).

`FrozenImports` snapshots, before the notebook runs, the namespaces of the modules the tests import
(numpy, torch, math, worldmodels, builtins): the runner executes the test modules with an
`__import__` that hands out these frozen views, so rebinding `numpy.allclose` even *during* a test (from
inside the learner's function) does not reach the test's `np.allclose`.

This defeats accidental and naive patching; it is not a security boundary: code that goes looking for
the grader's objects (`gc`, frames) can undo it. The sandbox is what keeps such code from harming
anything but its own grade (see docs/grading.md).
"""

import builtins
import os
import sys
import types

# Rebinding in these is reported (and undone); library internals elsewhere are undone silently.
WATCHED = {"builtins", "math", "numpy", "torch", "worldmodels", "sys", "os"}
# Packages whose functions' code and defaults are also restored, and whose modules the tests see frozen.
FROZEN = ("builtins", "math", "numpy", "torch", "worldmodels")


def _top(name: str) -> str:
    return name.split(".")[0]


class ModuleGuard:
    def __init__(self):
        self.modules = tuple((name, m) for name, m in sys.modules.items() if m is not None)
        saved, code = [], []
        for name, module in self.modules:
            try:
                items = tuple(vars(module).items())
            except TypeError:  # an object without __dict__ planted in sys.modules
                continue
            saved.append((name, vars(module), items))
            if _top(name) in FROZEN:
                for key, value in items:
                    if issubclass(type(value), type) and _top(getattr(value, "__module__", "") or "") == "worldmodels":
                        class_items = tuple(vars(value).items())
                        saved.append((f"{name}.{key}", None, (value, class_items)))
                        code += [(f, f.__code__, f.__defaults__, f.__kwdefaults__) for _, f in class_items
                                 if isinstance(f, types.FunctionType)]
                    elif type(value) is types.FunctionType:
                        code.append((value, value.__code__, value.__defaults__, value.__kwdefaults__))
        self.saved, self.code = tuple(saved), tuple(code)
        self.builtins = (vars(builtins), tuple(vars(builtins).items()))
        self.path = tuple(sys.path)
        self.recursion_limit = sys.getrecursionlimit()
        self.environ = tuple(os.environ.items())
        self.numpy_errors = tuple(sys.modules["numpy"].geterr().items()) if "numpy" in sys.modules else None
        self._sealed = True

    def __setattr__(self, name, value):
        if getattr(self, "_sealed", False):
            raise AttributeError("the grader's guard cannot be changed")
        object.__setattr__(self, name, value)

    def restore_builtins(self) -> None:
        """Put back rebound builtins only: cheap enough to run after every call of a learner's function."""
        current, items = self.builtins
        for key, value in items:
            if key not in current or current[key] is not value:
                current[key] = value

    def restore(self) -> list[str]:
        """Undo rebound or deleted module attributes, replaced sys.modules entries and function code;
        name what changed."""
        current, items, fixed = *self.builtins, []  # first, with no call to any builtin: the rest needs them
        for key, value in items:
            if key not in current or current[key] is not value:
                current[key] = value
                fixed += [key]
        changed = [f"builtins.{key}" for key in fixed if not key.startswith("_")]
        for name, module in self.modules:
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
                changed.append(f"sys.modules[{name!r}]")
        for name, current, items in self.saved:
            if current is None:  # a class of the course: its methods and attributes
                cls, items = items
                for key, value in items:
                    if vars(cls).get(key, _MISSING) is not value and key not in ("__dict__", "__weakref__"):
                        try:
                            setattr(cls, key, value)
                        except (AttributeError, TypeError):
                            continue
                        if not key.startswith("_"):
                            changed.append(f"{name}.{key}")
                continue
            for key, value in items:
                if current.get(key, _MISSING) is not value:
                    current[key] = value
                    if _top(name) in WATCHED and not key.startswith("_"):
                        changed.append(f"{name}.{key}")
        for func, code, defaults, kwdefaults in self.code:
            if func.__code__ is not code:
                func.__code__ = code
                changed.append(f"{func.__module__}.{func.__qualname__}.__code__")
            if func.__defaults__ is not defaults:
                func.__defaults__ = defaults
            if func.__kwdefaults__ is not kwdefaults:
                func.__kwdefaults__ = kwdefaults
        sys.path[:] = self.path
        sys.setrecursionlimit(self.recursion_limit)
        if tuple(os.environ.items()) != self.environ:
            os.environ.clear()
            os.environ.update(dict(self.environ))
        if self.numpy_errors is not None:
            sys.modules["numpy"].seterr(**dict(self.numpy_errors))
        torch = sys.modules.get("torch")
        if torch is not None and hasattr(torch, "set_default_dtype"):  # process-wide torch state tests rely on
            torch.set_default_dtype(torch.float32)
            torch.set_grad_enabled(True)
        return changed


class FrozenImports:
    """Frozen views of the loaded modules of FROZEN packages, and builtins whose __import__ hands them out."""

    def __init__(self):
        real = {name: m for name, m in sys.modules.items()
                if m is not None and _top(name) in FROZEN and isinstance(m, types.ModuleType)}
        self.views = {id(m): types.ModuleType(name) for name, m in real.items()}
        for name, module in real.items():
            view = vars(self.views[id(module)])
            view.update(vars(module))
            for key, value in list(view.items()):
                if issubclass(type(value), types.ModuleType) and id(value) in self.views:
                    view[key] = self.views[id(value)]
        self.builtins = dict(vars(builtins))
        real_import, views = builtins.__import__, self.views

        def frozen_import(name, globals=None, locals=None, fromlist=(), level=0):
            module = real_import(name, globals, locals, fromlist, level)
            return views.get(id(module), module)

        self.builtins["__import__"] = frozen_import

    def namespace(self) -> dict:
        """Globals for executing a test module: its imports see the frozen views."""
        return {"__builtins__": self.builtins}


_MISSING = object()
