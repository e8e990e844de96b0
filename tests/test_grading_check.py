"""check() and @exercise_test: the feedback a learner sees in the notebook."""

import numpy as np
import pytest

from worldmodels.grading import check, exercise_test, run_test, find_tests
from worldmodels.grading.registry import TESTS_ENV, chapter_tests_path, load_tests, parse_id


def reflect(x, v, radius, size):
    x_new, high = x + v, size - radius
    if x_new > high:
        return 2 * high - x_new, -v
    if x_new < radius:
        return 2 * radius - x_new, -v
    return x_new, v


def test_parse_id_rejects_bad_ids():
    assert parse_id("ex12.3") == ("12", 3)
    assert parse_id("ex1.2") == ("01", 2)
    assert parse_id("exA1.3") == ("A1", 3), "the appendix has ids of its own, apart from the chapters"
    assert chapter_tests_path(parse_id("exA1.3")[0]).name == "chA1.py"
    with pytest.raises(ValueError):
        parse_id("exB.1")
    with pytest.raises(ValueError, match="ex1.2"):
        parse_id("exercise 1")


def test_exercise_test_validates_its_arguments():
    with pytest.raises(ValueError, match="points"):
        exercise_test("ex1.1", points=0)
    with pytest.raises(ValueError, match="ids look like"):
        exercise_test("1.1", points=1)


def test_check_reports_every_test_passing(capsys):
    check("ex1.1", ns={"reflect": reflect})
    out = capsys.readouterr().out
    assert out.startswith("ex1.1: all 4 tests passed (4/4 points)")
    assert out.count("PASS") == 4


def test_check_uses_the_callers_globals(capsys):
    global kinetic_energy

    def kinetic_energy(v):  # noqa: F811 - the learner's definition, found through the caller's globals
        v = np.asarray(v, dtype=float)
        if v.shape[-1] != 2:
            raise ValueError("last axis must be 2")
        return 0.5 * (v**2).sum(axis=(-2, -1))

    check("ex1.2")
    assert capsys.readouterr().out.startswith("ex1.2: all 3 tests passed")


def test_check_shows_expected_versus_got_and_the_hint(capsys):
    check("ex1.1", ns={"reflect": lambda x, v, r, s: (x + v, v)})  # never bounces
    out = capsys.readouterr().out
    assert "all" not in out.splitlines()[0] and "did not pass" in out.splitlines()[0]
    assert "expected (27.5, -2.5), got (30.5, 2.5)" in out
    assert "hint: The centre may go up to size - radius" in out
    assert "Traceback" not in out


def test_check_names_the_learners_exception_without_a_traceback(capsys):
    def stub(*args):
        raise NotImplementedError("ex1.3: replace this line with your solution")

    check("ex1.3", ns={"ink_radius": stub})
    out = capsys.readouterr().out
    assert "ERROR  radius_of_one_pixel (0/1): NotImplementedError: ex1.3: replace this line" in out
    assert "0/4 points" in out and "Traceback" not in out


def test_check_explains_a_missing_function(capsys):
    check("ex1.3", ns={"np": np})
    assert "the notebook does not define `ink_radius`" in capsys.readouterr().out


def test_check_survives_sys_exit_and_times_out_loops(capsys):
    def exits(*args):
        raise SystemExit(0)

    def loops(*args):
        while True:
            try:
                pass
            except Exception:  # a learner's bare handler cannot swallow the timeout
                pass

    check("ex1.2", ns={"kinetic_energy": exits})
    assert "ERROR" in capsys.readouterr().out
    check("ex1.3", ns={"ink_radius": loops}, timeout=0.2)
    out = capsys.readouterr().out
    assert "TIMEOUT" in out and "took longer than 0.2 s" in out and "0/4 points" in out


def test_learner_redefinitions_do_not_reach_the_tests(capsys):
    # the learner's namespace shadows names the test module uses; the tests keep their own
    ns = {"reflect": reflect, "np": None, "isinstance": None, "_pair": None, "exercise_test": None}
    check("ex1.1", ns=ns)
    assert capsys.readouterr().out.startswith("ex1.1: all 4 tests passed")


def test_unknown_exercise_is_never_reported_as_passed(capsys):
    check("ex1.99", ns={})
    out = capsys.readouterr().out
    assert "no tests found" in out and "passed" not in out


def test_missing_tests_give_a_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(TESTS_ENV, str(tmp_path))
    check("ex1.1", ns={"reflect": reflect})
    out = capsys.readouterr().out
    assert "cannot find the exercise tests" in out and "pip install -e ." in out


def test_check_is_silent_while_grading(monkeypatch, capsys):
    monkeypatch.setenv("WORLDMODELS_GRADING", "1")
    check("ex1.1", ns={})
    assert "skipped while grading" in capsys.readouterr().out


def test_run_test_returns_structured_outcomes():
    outcomes = [run_test(t, {"reflect": reflect}) for t in find_tests("ex1.1")]
    assert [o.status for o in outcomes] == ["passed"] * 4
    assert sum(o.points for o in outcomes) == 4


def test_load_tests_gives_fresh_functions_each_time():
    path = chapter_tests_path(1)
    first, second = load_tests(path), load_tests(path)
    assert [t.name for t in first] == [t.name for t in second]
    assert first[0].func is not second[0].func


def test_module_guard_undoes_patches():
    import builtins
    import sys

    from worldmodels.grading.guard import ModuleGuard

    guard = ModuleGuard()
    original_allclose, original_abs, limit = np.allclose, builtins.abs, sys.getrecursionlimit()
    try:
        np.allclose = lambda *a, **k: True
        builtins.abs = lambda x: 0
        sys.modules["worldmodels.grading"] = None
        sys.setrecursionlimit(limit + 17)
        changed = guard.restore()
    finally:
        np.allclose, builtins.abs = original_allclose, original_abs
    assert np.allclose is original_allclose and abs(-2) == 2 and sys.getrecursionlimit() == limit
    assert sys.modules["worldmodels.grading"].check is check
    assert {"numpy.allclose", "builtins.abs", "sys.modules['worldmodels.grading']"} <= set(changed)


def test_check_has_the_graders_time_limit_for_the_whole_exercise(capsys):
    import inspect
    import time

    from worldmodels.grading.checker import EXERCISE_TIMEOUT_S
    from worldmodels.grading.grader import Limits

    assert inspect.signature(check).parameters["timeout"].default == EXERCISE_TIMEOUT_S == Limits().exercise_s

    def slow(frame):
        time.sleep(0.25)
        raise ValueError("slow")

    check("ex1.3", ns={"ink_radius": slow}, timeout=0.4)  # 4 tests of 0.25 s each: 0.4 s for all of them
    out = capsys.readouterr().out
    assert "TIMEOUT" in out and "ran past 0.4 s in all (the grader's limit)" in out


def _notebook(tmp_path, cells):
    import json

    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "source": source, "execution_count": count, "metadata": {}, "outputs": []}
        for source, count in cells]}))
    return path


def test_state_warnings_find_what_a_top_to_bottom_run_would_not_do(tmp_path):
    from worldmodels.grading.state import warnings

    exercise = "# EXERCISE ex1.2 (3 points)\ndef kinetic_energy(v):\n    return 0.5 * scale(v)"
    path = _notebook(tmp_path, [("import numpy as np", 1), ("x = helper(2)", 4), ("def helper(v):\n    return v", 3),
                                (exercise, 5), ("def scale(v):\n    return v", 6), ('check("ex1.2")', 7)])
    history = ["", "import numpy as np", "def helper(v): ...", "x = helper(2)", exercise.replace("0.5", "0.25"),
               "def scale(v): ...", 'check("ex1.2")', 'check("ex1.2")']  # this kernel's In: 7 cells run
    found = "\n".join(warnings("ex1.2", {"__session__": str(path), "In": history}))
    assert "out of order: code cell 3 ran before code cell 2" in found
    assert "`helper` is used in code cell 2 but first defined in code cell 3" in found
    assert "scale" not in found, "a function may use a name defined further down: the tests run after all cells"
    assert "differs from the version the kernel last ran" in found
    clean = _notebook(tmp_path, [("import numpy as np", 1), (exercise, 2), ("def scale(v):\n    return v", 3),
                                 ('check("ex1.2")', 4)])
    assert warnings("ex1.2", {"__session__": str(clean), "In": ["", exercise]}) == []
    stale = _notebook(tmp_path, [("import numpy as np", 9), (exercise, 8), ('check("ex1.2")', 10)])
    assert warnings("ex1.2", {"__session__": str(stale), "In": ["", exercise]}) == [], \
        "counts saved in an earlier session (higher than this kernel's) say nothing about this one"


def test_check_prints_the_state_warnings_and_the_advice(tmp_path, capsys):
    path = _notebook(tmp_path, [("y = later\n", 2), ("later = 1", 1), ('check("ex1.1")', 3)])
    check("ex1.1", ns={"reflect": reflect, "__session__": str(path)})
    out = capsys.readouterr().out
    assert out.startswith("ex1.1: all 4 tests passed")
    assert "warning: cells ran out of order" in out and "restart the kernel and run all cells" in out


def test_frozen_imports_and_a_sealed_guard():
    import numpy

    from worldmodels.grading.guard import FrozenImports, ModuleGuard

    frozen, guard = FrozenImports(), ModuleGuard()
    with pytest.raises(AttributeError, match="cannot be changed"):
        guard.saved = ()  # what a notebook that walked the frames up to the guard would try
    ns = frozen.namespace()
    exec("import numpy as np\nfrom numpy import allclose\nimport numpy.linalg as la", ns)
    original, norm = numpy.allclose, numpy.linalg.norm
    try:
        numpy.allclose = lambda *a, **k: True  # rebinding after the snapshot (a learner's function, mid-test)
        numpy.linalg.norm = lambda *a, **k: 0.0
        assert ns["np"].allclose is original and ns["allclose"] is original
        assert ns["np"].linalg.norm is norm and ns["la"].norm is norm
    finally:
        numpy.allclose, numpy.linalg.norm = original, norm


def test_the_answer_gate_lets_only_the_tests_call_the_answer():
    from worldmodels import physics
    from worldmodels.grading.answers import AnswerGate, AnswerUnavailable, GuardedNamespace

    code = compile("def expected(v):\n    return physics.kinetic_energy(v)\n", "<a test module>", "exec")
    scope = {"physics": physics}
    exec(code, scope)
    gate, v = AnswerGate(), np.ones((1, 2, 1, 2))
    gate.block("ex1.2", ["worldmodels.physics.kinetic_energy"], {code, scope["expected"].__code__})
    try:
        assert scope["expected"](v).shape == (1, 2), "the tests may compute the expected value with it"
        with pytest.raises(AnswerUnavailable, match="course's own answer to ex1.2"):
            physics.kinetic_energy(v)  # from anywhere else: refused
        with pytest.raises(AnswerUnavailable):
            GuardedNamespace({"kinetic_energy": physics.kinetic_energy})["kinetic_energy"]  # the answer, imported
        assert GuardedNamespace({"kinetic_energy": len})["kinetic_energy"] is len
    finally:
        called = gate.unblock()
    assert called == ["worldmodels.physics.kinetic_energy"]
    assert physics.kinetic_energy(v).shape == (1, 2), "unblocked after the exercise"
