"""The student release: exercises, the public tests check() uses and the student edition of the package; no
solutions, no hidden tests, and no code of any exercise's answer.

`release(out)` writes the bundle to `out` (default build/student) and checks it: no file holds a
solution marker or the text of a solution region, no hidden test module or hidden test name is there,
and the package is the student edition (edition.py) that grading mounts in the sandbox, the same one: every
answer named in ANSWERS is a stub. `kept_answers(out)` names any answer whose code is still there (none).
"""

import ast
import shutil
from pathlib import Path

import nbformat

from .edition import STUB, removable, student_edition
from .markers import BEGIN, END, generate
from .registry import HIDDEN, answers_in, exercise_tests_dir, repo_root
from .remote import remote_chapters

STAMP = ".student-release"  # marks a folder we wrote, so that a new release may replace it
TOP_FILES = ("pyproject.toml", "requirements.txt", "README.md", "LICENSE")
README = """# Student release

- `exercises/`: the course's notebooks with the exercises to solve.
- `tests/exercises/`: the public tests that `check("exN.M")` runs in a notebook.
- `worldmodels/`: the course's package. Install it with `pip install -r requirements.txt && pip install -e .`

The grader also runs hidden tests, so passing every `check()` is necessary but not sufficient for full marks.
Before submitting, restart the kernel and run all cells: grading runs each notebook from the top.
"""


def _solution_regions(solutions: Path) -> list[str]:
    regions = []
    for path in sorted(solutions.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and BEGIN in cell.source:
                for chunk in cell.source.split(BEGIN)[1:]:
                    body = "\n".join(line.strip() for line in chunk.split(END)[0].splitlines() if line.strip())
                    if body.count("\n") >= 1:  # one-line regions are too common to be told apart
                        regions.append(body)
    return regions


def _hidden_names(tests: Path) -> list[str]:
    names = []
    for path in sorted((tests / HIDDEN).glob("ch*.py")):
        names += [n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)
                  and any("exercise_test" in ast.unparse(d) for d in n.decorator_list)]
    return names


def _public(tests: Path) -> list:
    return [(path.stem.removeprefix("ch"), str(path), path.read_text(encoding="utf-8"))
            for path in sorted(Path(tests).glob("ch*.py"))]


def release_removals(solutions: Path, tests: Path) -> dict[str, str]:
    """{dotted answer: exercise} the release leaves out: the same as the grading edition's (edition.removable),
    from the public and the hidden test modules' ANSWERS."""
    hidden = [(path.stem.removeprefix("ch"), str(path), path.read_text(encoding="utf-8"))
              for path in sorted((Path(tests) / HIDDEN).glob("ch*.py"))]
    return removable(_public(tests) + hidden, solutions)


def kept_answers(out: Path, tests: Path) -> list[str]:
    """The answers of REMOTE exercises whose code the bundle `out` still carries (none, when all is well)."""
    public, kept = _public(tests), []
    hidden = [("", str(path), path.read_text(encoding="utf-8")) for path in sorted((Path(tests) / HIDDEN).glob("ch*.py"))]
    for chapter, _, source in public + [(path.split("/")[-1][2:-3], path, src) for _, path, src in hidden]:
        if chapter not in remote_chapters(public):
            continue
        for exercise, names in answers_in(source).items():
            for dotted in names:
                parts = dotted.split(".")
                for cut in range(len(parts) - 1, 1, -1):
                    path = Path(out).joinpath(*parts[:cut]).with_suffix(".py")
                    if path.is_file():
                        if f"{dotted} is the course" not in path.read_text(encoding="utf-8"):
                            kept.append(f"{dotted} ({exercise})")
                        break
    return sorted(set(kept))


def problems(out: Path, solutions: Path, tests: Path) -> list[str]:
    """What in the bundle `out` gives away a solution or a hidden test (empty: nothing)."""
    found = []
    regions, hidden = _solution_regions(solutions), _hidden_names(tests)
    for path in sorted(p for p in Path(out).rglob("*") if p.is_file()):
        rel = path.relative_to(out)
        if HIDDEN in rel.parts or "solutions" in rel.parts:
            found.append(f"{rel}: a hidden test or solutions file")
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if (BEGIN in text or END in text) and rel.parts[0] != "worldmodels":  # the grader names its markers
            found.append(f"{rel}: holds a solution marker")
        flat = "\n".join(line.strip() for line in text.splitlines() if line.strip())
        if path.suffix == ".ipynb":
            nb = nbformat.reads(text, as_version=4)
            flat = "\n".join(line.strip() for c in nb.cells for line in c.source.splitlines() if line.strip())
        found += [f"{rel}: holds the solution {r.splitlines()[0]!r}..." for r in regions if r in flat]
        found += [f"{rel}: names the hidden test {n}" for n in hidden if f"def {n}(" in text]
    for dotted, exercise in sorted(release_removals(solutions, tests).items()):
        module = Path(out).joinpath(*dotted.split(".")[:2]).with_suffix(".py")
        stub = STUB.format(name=dotted, exercise=exercise)
        if module.is_file() and stub not in module.read_text(encoding="utf-8"):
            found.append(f"{module.relative_to(out)}: carries the code of {dotted}, the answer to {exercise}")
    return found


def release(out: Path | None = None, solutions: Path | None = None, tests: Path | None = None) -> list[str]:
    """Write the student bundle to `out`; return the problems found in it (it is left in place to inspect)."""
    root = repo_root()
    out = Path(out or root / "build" / "student")
    solutions, tests = Path(solutions or root / "solutions"), Path(tests or exercise_tests_dir())
    if out.exists():
        if not (out / STAMP).is_file():
            raise FileExistsError(f"{out} exists and is not a student release: choose an empty folder")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / STAMP).write_text("written by python -m worldmodels.grading release\n")
    (out / "README_STUDENT.md").write_text(README)
    generate(solutions, out / "exercises")
    (out / "tests" / "exercises").mkdir(parents=True)
    for path in sorted(tests.glob("ch*.py")):
        shutil.copy(path, out / "tests" / "exercises" / path.name)
    student_edition(out, release_removals(solutions, tests))  # out/worldmodels, without caches
    for name in TOP_FILES:
        if (root / name).is_file():
            shutil.copy(root / name, out / name)
    return problems(out, solutions, tests)
