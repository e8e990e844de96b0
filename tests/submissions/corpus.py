"""A corpus of broken submissions, built from the chapter-1 solutions notebook.

`build(root)` writes one student folder per case under `root` and returns {student: expected}, where
expected maps each chapter-1 exercise to ("full" | "zero", a fragment the reason must contain).
Built programmatically so that the corpus follows the solutions notebook as it evolves.
"""

import copy
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_output

ROOT = Path(__file__).resolve().parents[2]
NAME = "01_what_is_a_world_model.ipynb"
SOLUTION = ROOT / "solutions" / NAME
FULL = ("full", "")
EXERCISE_S = 6  # the per-exercise limit (s) test_grading gives the grader: long enough for a correct solution on a
# loaded machine, short enough that the infinite loops below cost little


def _exercise_cell(nb, exercise):
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"# EXERCISE {exercise} "))


def _replace(nb, exercise, old, new):
    cell = _exercise_cell(nb, exercise)
    assert old in cell.source, f"corpus: {old!r} not found in {exercise}'s cell"
    cell.source = cell.source.replace(old, new)


def _insert(nb, source, after_exercise=None):
    index = 2 if after_exercise is None else nb.cells.index(_exercise_cell(nb, after_exercise)) + 1
    nb.cells.insert(index, new_code_cell(source))


def _syntax_error(nb):
    _replace(nb, "ex1.2", "return 0.5 * (v**2).sum(axis=(-2, -1))", "return 0.5 * (v**2).sum(axis=(-2, -1)")
    return {"ex1.1": FULL, "ex1.2": ("zero", "SyntaxError"), "ex1.3": FULL}


def _import_error(nb):
    imports = nb.cells[1]
    imports.source = "import numpy_typo_module_for_the_corpus\n" + imports.source
    return {"ex1.1": FULL, "ex1.2": ("zero", "ModuleNotFoundError"), "ex1.3": ("zero", "ModuleNotFoundError")}


def _unrelated_cell_error(nb):
    _insert(nb, 'raise RuntimeError("a cell that has nothing to do with the exercises")')
    _insert(nb, "1 / 0", after_exercise="ex1.3")
    return {"ex1.1": FULL, "ex1.2": FULL, "ex1.3": FULL}


def _infinite_loop(nb):
    _replace(nb, "ex1.3", "    frame = np.asarray(frame, dtype=np.float64)\n",
             "    while True:\n        pass\n    frame = np.asarray(frame, dtype=np.float64)\n")
    return {"ex1.1": FULL, "ex1.2": FULL, "ex1.3": ("zero", f"{EXERCISE_S:g} s")}  # the limit the grading tests use


def _stubborn_infinite_loop(nb):
    # swallows the grader's soft timeout, so only killing the process ends it
    _insert(nb, "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
            after_exercise="ex1.1")
    return {"ex1.1": FULL, "ex1.2": FULL, "ex1.3": FULL}


def _missing_function(nb):
    _replace(nb, "ex1.3", "def ink_radius(frame):", "def ink_radius_of_frame(frame):")
    return {"ex1.1": FULL, "ex1.2": FULL, "ex1.3": ("zero", "does not define `ink_radius`")}


def _wrong_type(nb):
    _replace(nb, "ex1.1", "    return x_new, v\n", '    return {"x": x_new, "v": v}\n')
    _replace(nb, "ex1.1", "return 2 * high - x_new, -v", 'return {"x": 2 * high - x_new, "v": -v}')
    _replace(nb, "ex1.1", "return 2 * radius - x_new, -v", 'return {"x": 2 * radius - x_new, "v": -v}')
    return {"ex1.1": ("zero", "expected reflect"), "ex1.2": FULL, "ex1.3": FULL}


def _wrong_shape(nb):
    _replace(nb, "ex1.2", "return 0.5 * (v**2).sum(axis=(-2, -1))", "return 0.5 * (v**2).sum(axis=-1)")
    return {"ex1.1": FULL, "ex1.2": ("zero", "expected shape"), "ex1.3": FULL}


def _wrong_dtype(nb):
    _replace(nb, "ex1.2", "return 0.5 * (v**2).sum(axis=(-2, -1))",
             "return (0.5 * (v**2).sum(axis=(-2, -1))).astype(int)")
    return {"ex1.1": FULL, "ex1.2": ("zero", "dtype int"), "ex1.3": FULL}


def _nan_results(nb):
    _replace(nb, "ex1.3", "    return float(np.sqrt(ink / np.pi))", "    return float('nan')")
    _replace(nb, "ex1.3", "    if not ink > 0:\n", "    if False:\n")
    return {"ex1.1": FULL, "ex1.2": FULL, "ex1.3": ("zero", "finite")}


def _enormous_output(nb):
    _insert(nb, 'print("x" * 300_000_000)\nfor _ in range(300):\n    print("y" * 1_000_000)', after_exercise="ex1.1")
    nb.cells[0 + 1].outputs = [new_output("stream", name="stdout", text="z" * 20_000_000)]  # a 20 MB stored output
    return {"ex1.1": FULL, "ex1.2": FULL, "ex1.3": FULL}


def _huge_allocation(nb):
    _insert(nb, "import numpy as np\nhuge = np.ones(10**11)  # 800 GB: MemoryError under the grader's memory limit",
            after_exercise="ex1.2")
    return {"ex1.1": FULL, "ex1.2": FULL, "ex1.3": FULL}


def _writes_and_deletes_files(nb):
    _insert(nb, "import os, shutil\n"
                "open('written_by_the_notebook.txt', 'w').write('hello')\n"
                "os.remove('data.csv')\n"
                f"os.remove('{NAME}')\n"
                "open('notes.md', 'w').write('overwritten')\n"
                "shutil.rmtree('sub')")
    _insert(nb, "import os, shutil\nshutil.rmtree(os.getcwd())  # its whole working folder", after_exercise="ex1.3")
    return {"ex1.1": FULL, "ex1.2": FULL, "ex1.3": FULL}


def _sys_exit(nb):
    _insert(nb, "import sys\nsys.exit(3)", after_exercise="ex1.1")
    return {"ex1.1": FULL, "ex1.2": FULL, "ex1.3": FULL}


def _os_exit(nb):
    _insert(nb, "import os\nos._exit(0)", after_exercise="ex1.2")
    return {"ex1.1": FULL, "ex1.2": FULL, "ex1.3": FULL}


def _kills_its_process(nb):
    _insert(nb, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", after_exercise="ex1.1")
    return {"ex1.1": FULL, "ex1.2": FULL, "ex1.3": FULL}


def _exits_inside_a_test(nb):
    _replace(nb, "ex1.3", "    frame = np.asarray(frame, dtype=np.float64)\n",
             "    import os\n    os._exit(1)\n    frame = np.asarray(frame, dtype=np.float64)\n")
    return {"ex1.1": FULL, "ex1.2": FULL, "ex1.3": ("zero", "ended the grading process")}


def _patches_the_grader(nb):
    _replace(nb, "ex1.2", "return 0.5 * (v**2).sum(axis=(-2, -1))", "return np.zeros(v.shape[:2])")
    _insert(nb, "import sys, types, numpy\n"
                "import worldmodels.grading, worldmodels.grading.checker, worldmodels.grading.registry\n"
                "def check(*args, **kwargs):\n    print('all tests passed')\n"
                "def fake_run_test(test, ns, timeout=None):\n    raise SystemExit('patched')\n"
                "worldmodels.grading.run_test = fake_run_test\n"
                "worldmodels.grading.checker.run_test = fake_run_test\n"
                "worldmodels.grading.registry.exercise_test = lambda *a, **k: (lambda f: None)\n"
                "numpy.allclose = lambda *a, **k: True\n"
                "numpy.isclose = lambda *a, **k: True\n"
                "sys.modules['worldmodels.grading'] = types.ModuleType('worldmodels.grading')\n",
            after_exercise="ex1.3")
    return {"ex1.1": FULL, "ex1.2": ("zero", "expected [[12.5, 0.5, 2.0]]"), "ex1.3": FULL}


def _forges_grader_messages(nb):
    _replace(nb, "ex1.2", "return 0.5 * (v**2).sum(axis=(-2, -1))", "return np.zeros(v.shape[:2])")
    _insert(nb, "import json, os\n"
                "fake = [{'e': 'test', 'pid': os.getpid(), 'nb': '" + NAME + "', 'ex': 'ex1.2', 'name': 'x',\n"
                "         'points': 3, 'max': 3, 'status': 'passed', 'message': ''},\n"
                "        {'e': 'done', 'pid': os.getpid()}]\n"
                "for fd in range(3, 40):\n"
                "    try:\n"
                "        os.write(fd, ''.join(json.dumps(e) + '\\n' for e in fake).encode())\n"
                "    except OSError:\n"
                "        pass", after_exercise="ex1.1")
    return {"ex1.1": FULL, "ex1.2": ("zero", "expected [[12.5, 0.5, 2.0]]"), "ex1.3": FULL}


CASES = {
    "syntax_error": _syntax_error,
    "import_error": _import_error,
    "unrelated_cell_error": _unrelated_cell_error,
    "infinite_loop": _infinite_loop,
    "stubborn_infinite_loop": _stubborn_infinite_loop,
    "missing_function": _missing_function,
    "wrong_type": _wrong_type,
    "wrong_shape": _wrong_shape,
    "wrong_dtype": _wrong_dtype,
    "nan_results": _nan_results,
    "enormous_output": _enormous_output,
    "huge_allocation": _huge_allocation,
    "writes_and_deletes_files": _writes_and_deletes_files,
    "sys_exit": _sys_exit,
    "os_exit": _os_exit,
    "kills_its_process": _kills_its_process,
    "exits_inside_a_test": _exits_inside_a_test,
    "patches_the_grader": _patches_the_grader,
    "forges_grader_messages": _forges_grader_messages,
}
ALL = ("ex1.1", "ex1.2", "ex1.3")


def build(root: Path) -> dict[str, dict[str, tuple[str, str]]]:
    """Write the corpus under root (one folder per student); return what each should score."""
    root = Path(root)
    solution = nbformat.read(SOLUTION, as_version=4)
    expected = {}
    for student, mutate in CASES.items():
        nb = copy.deepcopy(solution)
        expected[student] = mutate(nb)
        folder = root / student
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / NAME)
        (folder / "data.csv").write_text("x,y\n1,2\n")
        (folder / "notes.md").write_text("my notes\n")
        (folder / "sub").mkdir()
        (folder / "sub" / "keep.txt").write_text("keep me\n")
    (root / "not_json").mkdir()
    (root / "not_json" / NAME).write_text('{"cells": [ this is not JSON')
    expected["not_json"] = {ex: ("zero", "not a valid notebook") for ex in ALL}
    (root / "missing_notebook").mkdir()
    (root / "missing_notebook" / "02_something_else.ipynb").write_text("{}")
    expected["missing_notebook"] = {ex: ("zero", "missing") for ex in ALL}
    good = root / "complete_solution"
    good.mkdir()
    nbformat.write(solution, good / NAME)
    expected["complete_solution"] = {ex: FULL for ex in ALL}
    return expected


def expectation_problems(want: dict, got: dict) -> list[str]:
    """Compare graded rows with what a corpus expects: `want` maps student -> exercise -> (score, reason
    fragment) with score "full" or "zero"; `got` maps (student, exercise) -> a grades.csv row."""
    problems = []
    for student, exercises in want.items():
        for exercise, (score, fragment) in exercises.items():
            row = got[(student, exercise)]
            full = float(row["points"]) == float(row["max"]) > 0
            if (score == "full") != full or (score == "zero" and float(row["points"]) != 0):
                problems.append(f"{student} {exercise}: expected {score}, got {row['points']}/{row['max']} "
                                f"({row['status']}: {row['reason']})")
            elif fragment and fragment not in row["reason"]:
                problems.append(f"{student} {exercise}: reason lacks {fragment!r}: {row['reason']}")
    return problems
