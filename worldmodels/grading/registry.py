"""Exercise tests: the `@exercise_test` decorator and loading a chapter's tests by path.

A grading test is a plain function `test(ns)` that receives the learner's notebook namespace (a dict)
and asserts. The decorator only attaches an `ExerciseTest` record to the function; nothing global is
mutated, so loading a test module twice, or from a fresh module object, always gives the same tests.
Test modules live in `tests/exercises/chNN.py` (`chA1.py` for appendix 1) of the course repository,
next to the installed (editable) package, and are executed from their path, never imported by name:
code in a learner's notebook cannot swap them by planting a module in `sys.modules`.

A test module also names, for each of its exercises, the package functions that answer it:
`ANSWERS = {"ex5.2": ("worldmodels.probe.probe_r2", ...), "ex2.3": ()}`. While an exercise's tests
run in the grader, those functions are unavailable to the learner's code (see answers.py).
"""

import ast
import os
import re
import threading
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

CHAPTER = r"(?:\d+|A\d+)"  # a chapter (1, 12) or an appendix (A1): ex1.2, exA1.3; files 01_x.ipynb, A1_x.ipynb
EXERCISE_ID = re.compile(rf"^ex({CHAPTER})\.(\d+)$")
NOTEBOOK_CHAPTER = re.compile(rf"^({CHAPTER})_")
TESTS_ENV = "WORLDMODELS_TESTS_DIR"  # override where tests/exercises lives (e.g. an instructor's copy)
_ATTR = "__exercise_test__"
_PARSE_LOCK = threading.Lock()


def parse_source(source: str) -> ast.Module:
    """ast.parse, one thread at a time: CPython 3.11's parser can fail with "AST constructor recursion depth
    mismatch" when two threads parse at once (the grader grades students in threads). Code outside the grader
    that parses in another thread without this lock can still cross it (seen once, source not found), so
    that spurious error is retried: parsing the same source again gives the same tree."""
    with _PARSE_LOCK:
        for attempt in range(4):
            try:
                return ast.parse(source)
            except SystemError as error:
                if "recursion depth mismatch" not in str(error) or attempt == 3:
                    raise


@dataclass(frozen=True)
class ExerciseTest:
    exercise: str  # "ex1.2"
    name: str  # the test function's name
    points: float
    hint: str
    func: Callable


def chapter_key(chapter: int | str) -> str:
    """The chapter as file names spell it: 1 -> '01', '12' -> '12', 'A1' -> 'A1' (an appendix)."""
    text = str(chapter)
    return f"{int(text):02d}" if text.isdigit() else text


def parse_id(exercise: str) -> tuple[str, int]:
    """'ex1.2' -> ('01', 2), 'exA1.3' -> ('A1', 3) (appendix 1); anything else is a ValueError."""
    match = EXERCISE_ID.match(str(exercise))
    if not match:
        raise ValueError(f"exercise ids look like 'ex1.2' (chapter 1, exercise 2) or 'exA1.2' (appendix 1), "
                         f"got {exercise!r}")
    return chapter_key(match.group(1)), int(match.group(2))


def notebook_chapter(filename: str) -> str | None:
    """'02_language_models.ipynb' -> '02', 'A1_scaling_up.ipynb' -> 'A1', anything else None."""
    match = NOTEBOOK_CHAPTER.match(filename)
    return chapter_key(match.group(1)) if match else None


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


def chapter_tests_path(chapter: int | str, directory: Path | None = None) -> Path:
    return Path(directory or exercise_tests_dir()) / f"ch{chapter_key(chapter)}.py"


HIDDEN = "hidden"  # tests/exercises/hidden/chNN.py: tests the grader runs, check() does not, the release omits


def hidden_tests_path(chapter: int | str, directory: Path | None = None) -> Path:
    return Path(directory or exercise_tests_dir()) / HIDDEN / f"ch{chapter_key(chapter)}.py"


_loads = 0


@dataclass(frozen=True)
class Chapter:
    """One loaded test module: its tests in file order, its ANSWERS, and every code object it compiled
    (the grader lets only these call the course's answers while an exercise is graded)."""

    tests: tuple
    answers: dict  # exercise id -> tuple of dotted names of package functions
    codes: frozenset


def read_source(path: Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"cannot find the exercise tests {path}. They live in the course repository: install it with "
            f"`pip install -e .` from a clone (or set {TESTS_ENV} to the folder holding chNN.py)."
        )
    return path.read_text(encoding="utf-8")


def _code_objects(code: types.CodeType) -> set:
    found, todo = set(), [code]
    while todo:
        c = todo.pop()
        found.add(c)
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return found


def load_chapter(path: Path, source: str | None = None, namespace: dict | None = None) -> Chapter:
    """Execute a test module (from `source` when given, else read from `path`) in a fresh module object
    whose globals start as `namespace` (the grader passes builtins that import frozen module views)."""
    global _loads
    path = Path(path)
    source = read_source(path) if source is None else source
    _loads += 1
    module = types.ModuleType(f"_exercise_tests_{path.stem}_{_loads}")  # not added to sys.modules on purpose
    vars(module).update(namespace or {})
    module.__file__ = str(path)
    code = compile(source, str(path), "exec")  # writes no __pycache__
    exec(code, vars(module))
    found = [getattr(v, _ATTR) for v in vars(module).values() if callable(v) and hasattr(v, _ATTR)]
    tests = tuple(t for t in found if t.func is vars(module).get(t.name))  # skip aliases of the same test
    answers = vars(module).get("ANSWERS", {})
    if not isinstance(answers, dict) or not all(
            isinstance(v, (tuple, list)) and all(isinstance(n, str) for n in v) for v in answers.values()):
        raise ValueError(f"{path.name}: ANSWERS must map exercise ids to tuples of dotted function names")
    return Chapter(tests, {k: tuple(v) for k, v in answers.items()}, frozenset(_code_objects(code)))


def answers_in(source: str) -> dict[str, tuple]:
    """A test module's ANSWERS read from its source without running it (a literal dict; {} otherwise)."""
    import ast

    try:
        for node in parse_source(source).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ANSWERS" for t in node.targets):
                return {str(k): tuple(v) for k, v in ast.literal_eval(node.value).items()}
    except (SyntaxError, ValueError, TypeError, AttributeError):
        pass
    return {}


def load_tests(path: Path, source: str | None = None) -> list[ExerciseTest]:
    """Execute a test module from its path in a fresh module object; return its tests in file order."""
    return list(load_chapter(path, source).tests)


def find_tests(exercise: str, directory: Path | None = None) -> list[ExerciseTest]:
    """All tests of one exercise, e.g. find_tests('ex1.2') loads tests/exercises/ch01.py."""
    chapter, _ = parse_id(exercise)
    return [t for t in load_tests(chapter_tests_path(chapter, directory)) if t.exercise == exercise]


def all_answers(directory: Path | None = None) -> dict[str, tuple]:
    """Every chapter's ANSWERS, merged: exercise id -> dotted names of the package functions answering it."""
    merged = {}
    directory = Path(directory or exercise_tests_dir())
    for path in sorted(directory.glob("ch*.py")) + sorted((directory / HIDDEN).glob("ch*.py")):
        for exercise, names in load_chapter(path).answers.items():
            merged[exercise] = tuple(dict.fromkeys(merged.get(exercise, ()) + names))
    return merged


def resolve(dotted: str):
    """'worldmodels.probe.probe_r2' or 'worldmodels.world_model.WorldModel.predict' -> the object."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = vars(obj)[name] if isinstance(obj, type) and name in vars(obj) else getattr(obj, name)
        return obj
    raise ImportError(f"cannot import {dotted}")


def all_tests(directory: Path | None = None) -> dict[str, list[ExerciseTest]]:
    """Every exercise's tests found in directory/ch*.py and directory/hidden/ch*.py, keyed by exercise id."""
    by_exercise: dict[str, list[ExerciseTest]] = {}
    directory = Path(directory or exercise_tests_dir())
    for path in sorted(directory.glob("ch*.py")) + sorted((directory / HIDDEN).glob("ch*.py")):
        for t in load_tests(path):
            by_exercise.setdefault(t.exercise, []).append(t)
    return by_exercise
