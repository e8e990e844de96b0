"""Checks that keep solutions, tests and generated exercises in step (run in CI and before grading).

- every exercise in solutions/ has tests, and every tested exercise appears in solutions/;
- the points of an exercise's tests add up to the points of its marker;
- an exercise's id names its notebook's chapter (ex2.1 lives in 02_....ipynb, exA1.1 in A1_....ipynb);
- each exercise cell is followed, before the next exercise, by a `check("<its id>")` cell;
- each exercise has an ANSWERS entry naming the package functions that answer it, and they exist;
- no public test module uses an answer: `check()` runs them on the student edition, where answers are stubs
  (a comparison with the course's own answer belongs in a hidden test, run only by the grader).
"""

import ast
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
    return found + public_tests_use_answers(tests_directory)


def answers_named(source: str, answers) -> list[str]:
    """The answers (dotted names) a test module's source uses: a function imported from its module
    (`from worldmodels.stats import auc`), or reached through its module (`stats.auc`, `wm.rollout_loss`);
    a method when its class is imported from its module and the method's name is used as an attribute."""
    tree = ast.parse(source)
    imported, modules, attrs = {}, {}, set()  # local name -> dotted; local name -> module; attribute names
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"  # `from worldmodels import stats`
        elif isinstance(node, ast.Import):
            for alias in node.names:
                modules[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Attribute):
            attrs.add(node.attr)
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in imported:
            used.add(imported[node.id])
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            used.add(f"{modules[node.value.id]}.{node.attr}")
    found = []
    for dotted in answers:
        owner, leaf = dotted.rsplit(".", 1)
        if dotted in used or (owner in used and owner.rsplit(".", 1)[-1][:1].isupper() and leaf in attrs):
            found.append(dotted)
    return sorted(set(found))


def public_tests_use_answers(tests_directory: Path | None = None) -> list[str]:
    """Sentences naming each answer a public test module uses (empty: none does)."""
    directory = Path(tests_directory or exercise_tests_dir())
    answers = {name for names in all_answers(directory).values() for name in names}
    found = []
    for path in sorted(directory.glob("ch*.py")):
        for dotted in answers_named(path.read_text(encoding="utf-8"), answers):
            found.append(f"{path.name} uses {dotted}, an exercise's answer: check() runs the public tests on the student "
                         f"edition, where it is a stub; move the comparison to a hidden test ({HIDDEN}/{path.name})")
    return found
