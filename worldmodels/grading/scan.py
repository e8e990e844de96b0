"""What the grader reads in a notebook's source before running it, in its own process.

Two things a notebook cannot hide from a reader of its source, whatever it does at run time:

- **a copy of the course's answer**: `copied(cells, answers)` compiles every cell (never runs it) and
  compares each function it defines with the package functions that answer the notebook's exercises
  by *fingerprint*: bytecode, names, numbers and nested functions, not line numbers, file names, local
  variable names or docstrings. A pasted copy, renamed or moved, is the same function; a function
  written anew is not (no solutions notebook matches any answer: tests/test_grading_remote.py).
- **introspection that reaches code**: `introspection(cells)` finds the constructs that can copy or
  rebuild a function of the package at run time, or reach the grader's objects in the student's
  process: code objects and globals (`__code__`, `types.FunctionType`), source text (`inspect`,
  `linecache`), frames (`sys._getframe`), the garbage collector, `exec`/`eval`/`compile`, `marshal`,
  `importlib`, `ctypes`, including their names hidden in strings. The course's notebooks use none of them;
  a notebook that does is flagged for an instructor, with the cell and the construct.
"""

import ast
import types

from .answers import answer_function
from .registry import parse_source

ATTRIBUTES = {"__code__", "__globals__", "__closure__", "__builtins__", "__subclasses__", "_getframe",
              "f_back", "f_globals", "f_locals", "f_code", "gi_frame", "cr_frame", "tb_frame", "getsource",
              "getsourcelines", "getsourcefile", "getfile", "FunctionType", "CodeType", "get_objects",
              "get_referrers", "get_referents", "co_code"}
CALLS = {"exec", "eval", "compile", "__import__", "globals", "breakpoint"}
MODULES = {"gc", "inspect", "marshal", "linecache", "importlib", "ctypes", "dis", "pickle", "dill", "cloudpickle",
           "code", "codeop", "runpy", "zipimport", "tokenize"}
WORDS = ATTRIBUTES | {name for name in CALLS if name.startswith("_")} | {"getattr(__builtins__"}


def fingerprint(code: types.CodeType) -> tuple:
    """What two copies of one function share, wherever and under whatever names they were compiled."""
    consts = tuple(fingerprint(c) if isinstance(c, types.CodeType) else (type(c).__name__, repr(c))
                   for c in code.co_consts if not isinstance(c, str))  # strings: docstrings and messages
    flags = code.co_flags & 0xFFFF  # without the __future__ flags of the file it was compiled in
    return code.co_code, consts, code.co_names, code.co_argcount, code.co_kwonlyargcount, flags


def _functions(code: types.CodeType):
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield const
            yield from _functions(const)


def answer_prints(answers: dict) -> dict:
    """{fingerprint: [(exercise, dotted name), ...]} of the package functions `answers` ({exercise: names})
    names; one function may answer exercises of several chapters (stats.wilson_interval: ex8.2 and ex9.6)."""
    import inspect

    prints = {}
    for exercise, names in answers.items():
        for dotted in names:
            try:
                func = inspect.unwrap(answer_function(dotted))
            except (ImportError, AttributeError, KeyError, TypeError, ValueError):
                continue
            for code in (func.__code__, *_functions(func.__code__)):  # a copied nested function (learned_model's predict)
                hits = prints.setdefault(fingerprint(code), [])
                if (exercise, dotted) not in hits:
                    hits.append((exercise, dotted))
    return prints


def copied(cells: list, prints: dict) -> dict:
    """{exercise: [dotted answers]} whose code a function of the notebook's `cells` [(index, source)] copies."""
    found = {}
    for _, source in cells:
        try:
            code = compile(source, "<cell>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue
        for inner in _functions(code):
            for exercise, dotted in prints.get(fingerprint(inner), ()):
                if dotted not in found.setdefault(exercise, []):
                    found[exercise].append(dotted)
    return {ex: names for ex, names in found.items() if names}


def introspection(cells: list) -> list:
    """[(cell index, line, construct)] of the constructs above in the notebook's `cells`."""
    found = []
    for index, source in cells:
        try:
            tree = parse_source(source)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            what = None
            if isinstance(node, ast.Attribute) and node.attr in ATTRIBUTES:
                what = node.attr
            elif isinstance(node, ast.Name) and (node.id in CALLS or node.id in ATTRIBUTES):
                what = node.id
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                hit = [n for n in names if n and (n.split(".")[0] in MODULES or n.split(".")[-1] in ATTRIBUTES)]
                what = hit[0] if hit else None
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                what = next((w for w in WORDS if w in node.value), None)
                what = f"{what!r} in a string" if what else None
            if what:
                found.append((index, getattr(node, "lineno", 0), what))
    return found
