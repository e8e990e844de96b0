"""One source: exercise markers, generated student notebooks, and the CI consistency checks."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from worldmodels.grading.consistency import problems
from worldmodels.grading.markers import exercises, generate, marker_of, strip_solutions, student_notebook
from worldmodels.grading.registry import repo_root

ROOT = repo_root()
SOLVED = '''# EXERCISE ex9.1 (2 points)
def double(x):
    """Example: double(2) -> 4"""
    ### BEGIN SOLUTION
    y = 2 * x
    return y
    ### END SOLUTION'''


def test_marker_is_parsed_and_malformed_markers_are_rejected():
    assert marker_of("\n# EXERCISE ex2.10 (3 points)\ndef f(): pass") == ("ex2.10", 3.0)
    assert marker_of("# EXERCISE ex2.1 (1 point)") == ("ex2.1", 1.0)
    assert marker_of("x = 1\n# EXERCISE ex2.1 (1 point)") is None
    assert marker_of("# EXERCISE exA1.2 (3 points)") == ("exA1.2", 3.0)  # the appendix
    with pytest.raises(ValueError, match="malformed exercise marker"):
        marker_of("# EXERCISE 2.1 two points")


def test_solution_region_becomes_a_stub_naming_the_exercise():
    stub = strip_solutions(SOLVED, "ex9.1")
    assert "2 * x" not in stub and "BEGIN SOLUTION" not in stub
    assert '    raise NotImplementedError("ex9.1: replace this line with your solution")' in stub
    assert stub.startswith('# EXERCISE ex9.1 (2 points)\ndef double(x):\n    """Example: double(2) -> 4"""')


@pytest.mark.parametrize("source, message", [
    ("# EXERCISE ex9.1 (1 point)\ndef f():\n    ### BEGIN SOLUTION\n    pass", "never closed"),
    ("# EXERCISE ex9.1 (1 point)\ndef f():\n    pass\n    ### END SOLUTION", "without a"),
])
def test_unbalanced_regions_are_rejected(source, message):
    with pytest.raises(ValueError, match=message):
        strip_solutions(source, "ex9.1")


def test_student_notebook_clears_outputs_and_keeps_everything_else():
    cell = new_code_cell(SOLVED, execution_count=3, outputs=[nbformat.v4.new_output("stream", text="hi")])
    nb = new_notebook(cells=[new_markdown_cell("# Title"), cell, new_code_cell('check("ex9.1")', execution_count=4)])
    out = student_notebook(nb)
    assert nb.cells[1].source == SOLVED and nb.cells[1].outputs, "the input notebook must not change"
    assert out.cells[0].source == "# Title" and out.cells[2].source == 'check("ex9.1")'
    assert all(c.outputs == [] and c.execution_count is None for c in out.cells if c.cell_type == "code")
    assert [e.id for e in exercises(out)] == ["ex9.1"]


def test_run_timestamps_are_not_copied_into_exercises():
    cell = new_code_cell(SOLVED, execution_count=1, metadata={"execution": {"iopub.execute_input": "2026-01-01"}, "tags": ["x"]})
    out = student_notebook(new_notebook(cells=[cell]))
    assert "execution" not in out.cells[0].metadata, "a new run of the solutions must not make exercises/ stale"
    assert out.cells[0].metadata["tags"] == ["x"]


def test_a_region_outside_an_exercise_cell_is_rejected():
    nb = new_notebook(cells=[new_code_cell("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION")])
    with pytest.raises(ValueError, match="no '# EXERCISE"):
        student_notebook(nb)


def test_generate_writes_then_reports_stale_files(tmp_path):
    solutions, target = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell(SOLVED)]), solutions / "09_x.ipynb")
    assert generate(solutions, target, check_only=True) == [str(target / "09_x.ipynb")]
    generate(solutions, target)
    assert generate(solutions, target, check_only=True) == []
    (target / "09_x.ipynb").write_text((target / "09_x.ipynb").read_text().replace("double", "triple"))
    (target / "10_orphan.ipynb").write_text("{}")
    assert generate(solutions, target, check_only=True) == [str(target / "09_x.ipynb"), str(target / "10_orphan.ipynb")]


def test_committed_exercises_are_up_to_date():
    stale = generate(ROOT / "solutions", ROOT / "exercises", check_only=True)
    assert not stale, f"exercises/ is stale: {stale}; run `make exercises`"


def test_no_solution_leaks_into_exercises():
    for path in sorted((ROOT / "exercises").glob("*.ipynb")):
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, f"{path.name} leaks a solution"
        assert all(not c.get("outputs") for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


def test_solutions_tests_and_check_cells_agree():
    found = problems()
    assert not found, "\n".join(found)


def test_consistency_checks_catch_mistakes(tmp_path):
    solutions, tests = tmp_path / "solutions", tmp_path / "tests"
    solutions.mkdir(), tests.mkdir()
    nb = new_notebook(cells=[new_code_cell(SOLVED), new_code_cell("x = 1"),
                             new_code_cell(SOLVED.replace("ex9.1", "ex8.2").replace("double", "triple"))])
    nbformat.write(nb, solutions / "09_x.ipynb")
    (tests / "ch09.py").write_text(
        "from worldmodels.grading import exercise_test\n"
        "@exercise_test('ex9.1', points=1)\ndef t1(ns):\n    assert ns['double'](2) == 4\n"
        "@exercise_test('ex9.3', points=1)\ndef t3(ns):\n    pass\n"
        "P = 1\n@exercise_test('ex9.3', points=P)\ndef t4(ns):\n    pass\n")
    found = "\n".join(problems(solutions, tests))
    assert "ex9.1 is marked 2 points but its tests add up to 1" in found
    assert 'ex9.1 (cell 0) is not followed by a cell `check("ex9.1")`' in found
    assert "ex8.2 belongs to chapter 8, not 9" in found
    assert "ex8.2 has no tests" in found
    assert "tests exist for ex9.3 but no solutions notebook marks it" in found
    assert "the tests of ex9.3 are not all plain functions decorated with literal" in found
    assert "exercise ex9.1 has no entry in ANSWERS" in found
