"""Undo what a notebook did to imported modules before the grading tests run.

Student code shares the grading process with the tests (they must call its functions directly), so
it can rebind attributes of modules the tests rely on: `np.allclose = lambda *a, **k: True`,
`worldmodels.grading.run_test = ...`, `builtins.abs = ...`, or a fake entry in `sys.modules`.
`ModuleGuard` remembers, before the notebook runs, every loaded module object and the value of each
of its attributes, and `restore()` puts back whatever was rebound or deleted, along with a few
process-wide settings (sys.path, the recursion limit, os.environ, NumPy's error handling, torch's
default dtype and grad mode). This defeats accidental and naive patching; it is not a sandbox
(see docs/grading.md).
"""

import os
import sys

# Rebinding in these is reported (and undone); library internals elsewhere are undone silently.
WATCHED = {"builtins", "math", "numpy", "torch", "worldmodels", "sys", "os"}


class ModuleGuard:
    def __init__(self):
        self.modules = {name: m for name, m in sys.modules.items() if m is not None}
        self.values = {}
        for name, module in self.modules.items():
            try:
                self.values[name] = dict(vars(module))
            except TypeError:  # an object without __dict__ planted in sys.modules
                pass
        self.path = list(sys.path)
        self.recursion_limit = sys.getrecursionlimit()
        self.environ = dict(os.environ)
        self.numpy_errors = sys.modules["numpy"].geterr() if "numpy" in sys.modules else None

    def restore(self) -> list[str]:
        """Undo rebound or deleted module attributes and replaced sys.modules entries; name what changed."""
        changed = []
        for name, module in self.modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
                changed.append(f"sys.modules[{name!r}]")
        for name, saved in self.values.items():
            current = vars(self.modules[name])
            for key, value in saved.items():
                if current.get(key, _MISSING) is not value:
                    current[key] = value
                    if name.split(".")[0] in WATCHED and not key.startswith("_"):
                        changed.append(f"{name}.{key}")
        sys.path[:] = self.path
        sys.setrecursionlimit(self.recursion_limit)
        if os.environ != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        if self.numpy_errors is not None:
            sys.modules["numpy"].seterr(**self.numpy_errors)
        torch = sys.modules.get("torch")
        if torch is not None and hasattr(torch, "set_default_dtype"):  # process-wide torch state tests rely on
            torch.set_default_dtype(torch.float32)
            torch.set_grad_enabled(True)
        return changed


_MISSING = object()
