"""The student edition of the package: what the sandbox mounts as `worldmodels` while grading.

It is the package as `make release` ships it (no caches) minus the course's answers that nothing in
the student's process needs any more: the answers (ANSWERS) of the chapters whose tests run in the
grader (remote.py), unless another package module, a test run in the student's process, or a cell of
a solutions notebook outside its exercise cells names them. In the edition those functions keep their
signature and docstring, and their body is one `raise NotImplementedError`: there is no code left to
call, copy, recompile or load under another name. The others stay, since honest notebooks use them
(the simulator needs `reflect`, every chapter measures with `centroids`), and the answer gate
(answers.py) still refuses them while their exercise is graded.
"""

import ast
import shutil
from pathlib import Path

import nbformat

from .markers import marker_of
from .registry import answers_in, repo_root
from .remote import remote_chapters

STUB = 'raise NotImplementedError("{name} is the course\'s answer to {exercise}: it is not in the student edition")'


def _names(tree, bare: bool = True) -> set:
    """Names a module uses; without `bare`, only imported ones and attributes (`from m import f`, `m.f`):
    in a notebook a bare name may be the learner's own function of the same name."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and bare:
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.add(node.name.split(".")[-1])
    return found


def _used_elsewhere(package: Path, solutions: Path) -> set:
    """Every name the package (but the grader) and the solutions notebooks (but their exercise cells) use."""
    used = set()
    for path in package.rglob("*.py"):
        if "grading" not in path.relative_to(package).parts:
            used |= _names(ast.parse(path.read_text(encoding="utf-8")))
    for path in solutions.glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            try:
                if cell.cell_type == "code" and not marker_of(cell.source):
                    used |= _names(ast.parse(cell.source), bare=False)
            except (SyntaxError, ValueError):
                continue
    return used


def removable(tests: list, solutions: Path | None = None) -> dict[str, str]:
    """{dotted answer: its exercise} that the edition can leave out, for the tests [(chapter, path, source)]."""
    remote, keep, answers = remote_chapters(tests), set(), {}
    for chapter, path, source in tests:
        for exercise, names in answers_in(source).items():
            for name in names:
                if chapter in remote:
                    answers.setdefault(name, exercise)
                else:
                    keep.add(name)  # a test in the student's process may call it to compute its expectation
    used = _used_elsewhere(repo_root() / "worldmodels", Path(solutions or repo_root() / "solutions"))
    return {name: ex for name, ex in answers.items() if name not in keep and name.split(".")[-1] not in used}


def _module_file(package: Path, dotted: str) -> tuple[Path, list[str]] | None:
    parts = dotted.split(".")[1:]  # without "worldmodels"
    for cut in range(len(parts) - 1, 0, -1):
        for path in (package.joinpath(*parts[:cut]).with_suffix(".py"), package.joinpath(*parts[:cut], "__init__.py")):
            if path.is_file():
                return path, parts[cut:]
    return None


def _strip(path: Path, inside: list[str], dotted: str, exercise: str) -> bool:
    """Replace the body (not the docstring) of the function `inside` (["f"] or ["Class", "f"]) of `path`."""
    text = path.read_text(encoding="utf-8")
    body = ast.parse(text).body
    node = None
    for name in inside:
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name), None)
        if node is None:
            return False
        body = node.body
    if not isinstance(node, ast.FunctionDef):
        return False
    doc = ast.get_docstring(node, clean=False) is not None
    keep = node.body[:1] if doc else []
    rest = node.body[len(keep):]
    lines = text.split("\n")
    indent = " " * (node.body[0].col_offset)
    stub = indent + STUB.format(name=dotted, exercise=exercise)
    if rest and rest[0].lineno == node.lineno:  # `def f(): return ...` on one line: leave it alone
        return False
    if rest:  # from the first statement's first line: a nested function's decorators included
        first = min([rest[0].lineno] + [d.lineno for d in getattr(rest[0], "decorator_list", [])])
        lines[first - 1: node.end_lineno] = [stub]
    else:
        lines.insert(node.end_lineno, stub)
    text = "\n".join(lines)
    compile(text, str(path), "exec")  # a SyntaxError here is a bug of ours: better loud than a broken edition
    path.write_text(text, encoding="utf-8")
    return True


def student_edition(out: Path, remove: dict[str, str] | None = None) -> Path:
    """Copy the package into `out` (a folder of the grader's) without caches, leave out the bodies of the
    `remove` answers ({dotted: exercise}), and return the copy."""
    target = Path(out) / "worldmodels"
    shutil.copytree(repo_root() / "worldmodels", target, symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    for dotted, exercise in sorted((remove or {}).items()):
        found = _module_file(target, dotted)
        if found is None or not _strip(found[0], found[1], dotted, exercise):
            raise ValueError(f"cannot leave {dotted} out of the student edition: no such function in the package")
    return target
