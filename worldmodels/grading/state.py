"""Does the live notebook state match a top-to-bottom run? Warnings for check().

The grader runs the notebook's cells from the top, once, in a fresh process; a learner's kernel may
have run them in another order, run a cell that was later deleted or edited, or skipped one. `warnings`
reads the saved notebook (its path comes from the kernel: `__session__`, `__vsc_ipynb_file__` or
`JPY_SESSION_NAME`) and reports what would differ, for the cells above the check of one exercise:

- cells whose execution counts are not increasing from top to bottom (run out of order), or not run;
- names used at the top level of a cell that only a cell further down defines: a top-to-bottom run
  stops there with a NameError;
- an exercise cell whose source differs from what the kernel last ran for it (edited, not re-run).

Nothing here is certain (the saved file may lag behind the editor), so check() only warns.
"""

import ast
import json
import os
from pathlib import Path

ADVICE = ("before submitting, restart the kernel and run all cells (Kernel > Restart Kernel and Run All "
          "Cells): the grader runs the notebook from the top in a fresh process")


def notebook_path(ns: dict) -> Path | None:
    for candidate in (ns.get("__session__"), ns.get("__vsc_ipynb_file__"), os.environ.get("JPY_SESSION_NAME")):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            for path in (Path(candidate), Path.cwd() / Path(candidate).name):  # absolute, or next to the kernel
                if path.is_file():
                    return path
    return None


def _python(source: str) -> ast.Module | None:
    if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        try:
            from IPython.core.inputtransformer2 import TransformerManager

            source = TransformerManager().transform_cell(source)
        except Exception:
            return None
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def _defined(tree: ast.Module) -> set:
    names = set()
    for node in tree.body:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                names.add(sub.id)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _top_level_uses(tree: ast.Module) -> list[str]:
    """Names loaded at module level (not inside function or class bodies), in order."""
    used = []

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            for d in getattr(node, "decorator_list", []):
                visit(d)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            used.append(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for node in tree.body:
        visit(node)
    return used


def warnings(exercise: str, ns: dict, path: Path | None = None) -> list[str]:
    """Ways in which the kernel's state may differ from a top-to-bottom run, up to `check(exercise)`."""
    path = path or notebook_path(ns)
    if path is None:
        return []
    try:
        cells = [c for c in json.loads(Path(path).read_text(encoding="utf-8"))["cells"] if c.get("cell_type") == "code"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    sources = ["".join(c.get("source", "")) for c in cells]
    stop = next((i for i, s in enumerate(sources) if f'check("{exercise}")' in s or f"check('{exercise}')" in s),
                len(cells))
    found = []
    counts = [(i, c.get("execution_count")) for i, c in enumerate(cells[:stop]) if sources[i].strip()]
    ran = [(i, n) for i, n in counts if isinstance(n, int)]
    history = ns.get("In") or ns.get("_ih")
    if isinstance(history, list) and any(n >= len(history) for _, n in ran):
        ran = []  # the saved counts come from an earlier session (not saved since): nothing to say about order
    if ran:
        for (i, a), (j, b) in zip(ran, ran[1:]):
            if b < a:
                found.append(f"cells ran out of order: code cell {j + 1} ran before code cell {i + 1} above it "
                             f"(execution counts [{a}] then [{b}])")
                break
        skipped = [i for i, n in counts if n is None and i < ran[-1][0]]
        if skipped:
            found.append(f"code cell {skipped[0] + 1} above has not been run in this session")
    trees = [_python(s) for s in sources]
    defined_at = {}
    for i, tree in enumerate(trees):
        for name in _defined(tree) if tree else ():
            defined_at.setdefault(name, []).append(i)
    seen = set()
    for i, tree in enumerate(trees[:stop]):
        if tree is None:
            continue
        for name in _top_level_uses(tree):  # a function's body may use later names: the tests run after all cells
            first = min(defined_at.get(name, [10**9]))
            if first > i and name not in seen and name in defined_at and name not in _defined(tree):
                seen.add(name)
                found.append(f"`{name}` is used in code cell {i + 1} but first defined in code cell {first + 1} "
                             "below it: a top-to-bottom run would stop with a NameError")
    if isinstance(history, list):
        for i, source in enumerate(sources[:stop]):
            if not source.lstrip().startswith(f"# EXERCISE {exercise} "):
                continue
            first_line = source.strip().splitlines()[0]
            runs = [h for h in history if isinstance(h, str) and h.strip().startswith(first_line)]
            if runs and runs[-1].strip() != source.strip():
                found.append(f"the exercise cell (code cell {i + 1}) differs from the version the kernel last ran "
                             "(edited but not re-run, or not saved)")
    return found
