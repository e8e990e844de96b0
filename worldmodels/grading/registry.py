"""Exercise tests: the `@exercise_test` decorator and loading a chapter's tests by path.

A grading test is a plain function `test(ns)` that receives the learner's notebook namespace (a dict)
and asserts. The decorator only attaches an `ExerciseTest` record to the function; nothing global is
mutated, so loading a test module twice, or from a fresh module object, always gives the same tests.
Test modules live in `tests/exercises/chNN.py` of the course repository, next to the installed
(editable) package, and are executed from their path, never imported by name: code in a learner's
notebook cannot swap them by planting a module in `sys.modules`.
"""

import os
import re
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

EXERCISE_ID = re.compile(r"^ex(\d+)\.(\d+)$")
TESTS_ENV = "WORLDMODELS_TESTS_DIR"  # override where tests/exercises lives (e.g. an instructor's copy)
_ATTR = "__exercise_test__"


@dataclass(frozen=True)
class ExerciseTest:
    exercise: str  # "ex1.2"
    name: str  # the test function's name
    points: float
    hint: str
    func: Callable


def parse_id(exercise: str) -> tuple[int, int]:
    """'ex1.2' -> (1, 2); anything else is a ValueError saying what an id looks like."""
    match = EXERCISE_ID.match(str(exercise))
    if not match:
        raise ValueError(f"exercise ids look like 'ex1.2' (chapter 1, exercise 2), got {exercise!r}")
    return int(match.group(1)), int(match.group(2))


def exercise_test(exercise: str, points: float = 1, hint: str = ""):
    """Mark `func(ns)` as a grading test of `exercise` worth `points`; `hint` is shown when it fails."""
    parse_id(exercise)
    if not isinstance(points, (int, float)) or points <= 0:
        raise ValueError(f"points of a test of {exercise} must be a positive number, got {points!r}")

    def mark(func):
        if not callable(func):
            raise ValueError(f"@exercise_test({exercise!r}) decorates a function test(ns), got {func!r}")
        setattr(func, _ATTR, ExerciseTest(exercise, func.__name__, points, hint, func))
        return func

    return mark


def repo_root() -> Path:
    """The course repository: the folder holding the (editable-installed) `worldmodels` package."""
    return Path(__file__).resolve().parents[2]


def exercise_tests_dir() -> Path:
    return Path(os.environ.get(TESTS_ENV) or repo_root() / "tests" / "exercises")


def chapter_tests_path(chapter: int, directory: Path | None = None) -> Path:
    return Path(directory or exercise_tests_dir()) / f"ch{chapter:02d}.py"


_loads = 0


def load_tests(path: Path) -> list[ExerciseTest]:
    """Execute a test module from its path in a fresh module object; return its tests in file order."""
    global _loads
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"cannot find the exercise tests {path}. They live in the course repository: install it with "
            f"`pip install -e .` from a clone (or set {TESTS_ENV} to the folder holding chNN.py)."
        )
    _loads += 1
    module = types.ModuleType(f"_exercise_tests_{path.stem}_{_loads}")  # not added to sys.modules on purpose
    module.__file__ = str(path)
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), vars(module))  # writes no __pycache__
    found = [getattr(v, _ATTR) for v in vars(module).values() if callable(v) and hasattr(v, _ATTR)]
    return [t for t in found if t.func is vars(module).get(t.name)]  # skip aliases of the same test


def find_tests(exercise: str, directory: Path | None = None) -> list[ExerciseTest]:
    """All tests of one exercise, e.g. find_tests('ex1.2') loads tests/exercises/ch01.py."""
    chapter, _ = parse_id(exercise)
    return [t for t in load_tests(chapter_tests_path(chapter, directory)) if t.exercise == exercise]


def all_tests(directory: Path | None = None) -> dict[str, list[ExerciseTest]]:
    """Every exercise's tests found in directory/ch*.py, keyed by exercise id."""
    by_exercise: dict[str, list[ExerciseTest]] = {}
    for path in sorted(Path(directory or exercise_tests_dir()).glob("ch*.py")):
        for t in load_tests(path):
            by_exercise.setdefault(t.exercise, []).append(t)
    return by_exercise
