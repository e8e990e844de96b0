"""Checks that keep solutions, tests and generated exercises in step (run in CI and before grading).

- every exercise in solutions/ has tests, and every tested exercise appears in solutions/;
- the points of an exercise's tests add up to the points of its marker;
- an exercise's id names its notebook's chapter (ex2.1 lives in 02_....ipynb, exA1.1 in A1_....ipynb);
- each exercise cell is followed, before the next exercise, by a `check("<its id>")` cell;
- each exercise has an ANSWERS entry naming the package functions that answer it, and they exist.
"""

import re
from pathlib import Path

import nbformat

from .grader import is_check_cell, points_table
from .markers import exercises
from .answers import answer_function
from .registry import CHAPTER, HIDDEN, all_answers, all_tests, notebook_chapter, parse_id, repo_root, exercise_tests_dir


def _check_calls(source: str) -> list[str]:
    return re.findall(rf"""check\(\s*["'](ex{CHAPTER}\.\d+)["']""", source)


def problems(solutions_dir: Path | None = None, tests_directory: Path | None = None) -> list[str]:
    """Every inconsistency found, as readable sentences (an empty list means all is well)."""
    solutions_dir = Path(solutions_dir or repo_root() / "solutions")
    found, marked = [], {}
    for path in sorted(solutions_dir.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        try:
            exs = exercises(nb)
        except ValueError as error:
            found.append(f"{path.name}: {error}")
            continue
        number = notebook_chapter(path.name)
        for ex in exs:
            if ex.id in marked:
                found.append(f"{ex.id} is marked in both {marked[ex.id][0]} and {path.name}")
            marked[ex.id] = (path.name, ex.points)
            if number and parse_id(ex.id)[0] != number:
                found.append(f"{path.name}: exercise {ex.id} belongs to chapter {parse_id(ex.id)[0].lstrip('0')}, "
                             f"not {number.lstrip('0')}; rename it ex{number.lstrip('0')}.N")
        codes = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        for k, ex in enumerate(exs):
            end = exs[k + 1].cell if k + 1 < len(exs) else len(nb.cells)
            after = [src for i, src in codes if ex.cell < i < end]
            if not any(ex.id in _check_calls(src) and is_check_cell(src) for src in after):
                found.append(f"{path.name}: exercise {ex.id} (cell {ex.cell}) is not followed by a cell "
                             f'`check("{ex.id}")` before the next exercise')
    try:
        tests = all_tests(tests_directory or exercise_tests_dir())
    except Exception as error:  # a broken test module: say which
        return found + [f"the exercise tests cannot be loaded: {type(error).__name__}: {error}"]
    for ex_id, (name, points) in sorted(marked.items()):
        if ex_id not in tests:
            found.append(f"{name}: exercise {ex_id} has no tests in tests/exercises/ch{parse_id(ex_id)[0]}.py")
            continue
        total = sum(t.points for t in tests[ex_id])
        if abs(total - points) > 1e-9:
            found.append(f"{name}: exercise {ex_id} is marked {points:g} points but its tests add up to {total:g}")
    for ex_id in sorted(set(tests) - set(marked)):
        found.append(f"tests exist for {ex_id} but no solutions notebook marks it")
    directory = Path(tests_directory or exercise_tests_dir())
    sources = [(0, str(path), path.read_text(encoding="utf-8"))
               for path in sorted(directory.glob("ch*.py")) + sorted((directory / HIDDEN).glob("ch*.py"))]
    table = points_table(sources)
    for ex_id, ts in sorted(tests.items()):
        if table.get(ex_id) != {t.name: float(t.points) for t in ts}:
            found.append(f"the tests of {ex_id} are not all plain functions decorated with literal "
                         f"@exercise_test(...) arguments: the grader could not tell their results from forged ones")
    answers = all_answers(tests_directory or exercise_tests_dir())
    for ex_id, (name, _) in sorted(marked.items()):
        if ex_id not in answers:
            found.append(f"{name}: exercise {ex_id} has no entry in ANSWERS of tests/exercises/"
                         f"ch{parse_id(ex_id)[0]}.py (the package functions that answer it; () if none)")
        for dotted in answers.get(ex_id, ()):
            try:
                answer_function(dotted)
            except (ImportError, AttributeError, KeyError, TypeError) as error:
                found.append(f"ANSWERS of {ex_id}: {dotted} is not a package function ({error})")
    return found
