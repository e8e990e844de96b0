"""The student edition of the package: what `make release` gives students and the sandbox mounts as `worldmodels`.

The one source of which package functions are exercise answers is `ANSWERS` in the test modules
(tests/exercises/chNN.py and hidden/chNN.py). In the student edition every one of them keeps its signature
and docstring, and its body is one `raise NotImplementedError("... is the course's answer to exN.M ...")`:
there is no code left to call, copy, recompile, load under another name, or find through `gc` or the
grader's private tables. Everything else of the package is intact.

That is possible because no answer is a tool: nothing the student's process runs (a non-exercise cell of an
exercises notebook, the package code those cells call, a public test that `check()` runs) needs one. Where a
chapter needs a measuring tool (`centroids`, `WorldModel.predict`, `training.shard_rows`, `centroid.match_error`),
its exercise asks for something the package does not have (`ink_radius`, latents for a batch of plans, uneven
shards, the best pairing itself rather than its distance),
and comparisons with the course's own answers live in hidden tests, which run only in the grader with the
full package. `python -m worldmodels.grading verify` checks that public tests name no answer; grading the
solutions in the sandbox (tests/test_grading.py) checks that the notebooks run on the edition.
"""

import ast
import shutil
from pathlib import Path

from .registry import answers_in, repo_root
from .remote import remote_chapters

# Answers the student's process cannot do without, kept in the edition with the reason (the grader still refuses
# them while their exercise is graded, and finds pasted copies). Each one would be a gap: its exercise should ask
# for something the package does not have. None today: the last one, centroid.match_error (the harness scores
# every predictor with it), stopped being an answer when ex7.2 came to ask for the pairing instead of its distance.
TOOLS: dict[str, str] = {}

STUB = 'raise NotImplementedError("{name} is the course\'s answer to {exercise}: it is not in the student edition")'


def removable(tests: list, solutions: Path | None = None) -> dict[str, str]:
    """{dotted answer: its exercise} that the edition leaves out, for the tests [(chapter, path, source)]: every
    answer of a chapter whose tests run in the grader (REMOTE), hidden modules' ANSWERS included. An answer of a
    chapter whose tests run in the student's process stays (those tests may compute expectations with it).
    `solutions` is accepted for compatibility and not used."""
    remote, keep, answers = remote_chapters(tests), set(), {}
    for chapter, path, source in tests:
        for exercise, names in answers_in(source).items():
            for name in names:
                if chapter in remote:
                    answers.setdefault(name, exercise)
                else:
                    keep.add(name)
    return {name: ex for name, ex in answers.items() if name not in keep and name not in TOOLS}


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
