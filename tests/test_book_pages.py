"""The generated and workshop pages of the book stay true: exercises page in sync with solutions/ (and
free of solutions), every list of chapters generated from the table of chapters (tools/chapters.py) and
its headline numbers printed by the checked cells it names, the nbval parts covering every notebook,
glossary links idempotent, launch buttons only with a repository URL, the JupyterLab settings that
silence the news prompt present."""

import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import book_config  # noqa: E402
import chapters  # noqa: E402
import exercise_statements  # noqa: E402
import front_matter  # noqa: E402
import link_glossary  # noqa: E402
import nbval_split  # noqa: E402
import workshop_figures  # noqa: E402


def test_exercise_page_is_up_to_date():
    current = exercise_statements.PAGE.read_text(encoding="utf-8")
    assert current == exercise_statements.page(), (
        "book/exercise_statements.md is stale: run `.venv/bin/python tools/exercise_statements.py` (make book does)")


def test_exercise_page_shows_every_exercise_and_no_solution():
    from worldmodels.grading import markers
    from worldmodels.grading.markers import BEGIN, END, exercises

    page = exercise_statements.PAGE.read_text(encoding="utf-8")
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for exercise in exercises(nb):
            assert f"# EXERCISE {exercise.id} " in page, f"{exercise.id} of {path.name} is missing from the page"
            source = nb.cells[exercise.cell].source
            solution = source[source.index(BEGIN) + len(BEGIN):source.index(END)]
            public = (markers.render(markers.student_notebook(nb))
                      + (ROOT / "tests" / "exercises" / f"ch{path.name[:2]}.py").read_text(encoding="utf-8"))
            lines = [line.strip() for line in solution.split("\n") if len(line.strip()) > 25]
            leaked = [line for line in lines if line in page and line not in public]  # not in the statement
            assert not leaked, f"solution lines of {exercise.id} appear on the exercises page: {leaked[:3]}"
        assert f"exercises/{path.name}" in page


def test_exercise_page_shows_hints_as_code_and_generated_counts():
    page = exercise_statements.PAGE.read_text(encoding="utf-8")
    hints = [line for line in page.splitlines() if line.startswith("- ") and "check(" not in line]
    in_hint_lists = re.findall(r"says when a test fails\):\n\n((?:- .*\n)+)", page)
    assert in_hint_lists and hints
    for block in in_hint_lists:
        for line in block.splitlines():
            assert re.fullmatch(r"- (`+) ?.*? ?\1", line), f"a hint not in code formatting: {line}"
    assert exercise_statements.inline_code("a `b` c") == "``a `b` c``"
    assert exercise_statements.inline_code("`x`") == "`` `x` ``"
    assert re.search(r"The course has \d+ exercise notebooks with \d+ exercises", page)
    learner = (ROOT / "book" / "exercises.md").read_text(encoding="utf-8")
    assert "docs/grading.md" not in learner, "the grader's guide belongs on the instructors' page"
    assert "docs/grading.md" in (ROOT / "book" / "grading.md").read_text(encoding="utf-8")


def test_every_list_of_chapters_is_generated_from_the_table():
    stale = front_matter.stale()
    assert not stale, f"stale: {stale}: run `.venv/bin/python tools/front_matter.py` (make book does)"


def test_every_notebook_has_a_row_and_every_row_its_notebooks():
    timed = nbval_split.timed_notebooks()
    assert not nbval_split.unlisted(timed), "notebooks without a row in tools/chapters.py"
    missing = [path for path in timed if not (ROOT / path).exists()]
    assert not missing, f"tools/chapters.py names notebooks that do not exist: {missing}"
    labels = [c.label for c in chapters.CHAPTERS if c.label]
    assert len(labels) == len(set(labels))
    for chapter in chapters.CHAPTERS:
        assert chapter.part in chapters.PARTS and chapter.stage in chapters.STAGES, chapter.title
        assert chapter.run_s <= chapter.budget_s, f"{chapter.name} runs {chapter.run_s} s, over its budget"
        title = nbformat.read(ROOT / "notebooks" / chapter.notebook, as_version=4).cells[0].source.split("\n")[0]
        assert chapter.title in title, f"{chapter.notebook} is titled {title!r}, the table says {chapter.title!r}"


def test_nbval_parts_cover_every_notebook_once_and_balance():
    timed = nbval_split.timed_notebooks()
    parts = nbval_split.parts(timed)
    assert len(parts) == len(nbval_split.PARTS) == 3
    assert sorted(sum(parts, [])) == sorted(timed), "every notebook in exactly one part"
    seconds = [sum(timed[p] for p in part) for part in parts]
    assert max(seconds) - min(seconds) <= max(timed.values()), seconds
    makefile = (ROOT / "Makefile").read_text()
    for name in nbval_split.PARTS:
        assert f"test-nbval-{name}" in makefile, f"make test runs no job for nbval part {name}"


def _checked_outputs(notebook: Path, cell_id: str) -> str:
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c.get("id") == cell_id]
    assert cells, f"{notebook.name} has no cell with id {cell_id}"
    tags = cells[0].get("metadata", {}).get("tags", [])
    assert {"nbval-check-output", "nbval-tolerance"} & set(tags), f"{notebook.name} cell {cell_id} is not checked"
    text = []
    for out in cells[0].get("outputs", []):
        data = out.get("data", {})
        text += ["".join(out.get("text", "")), "".join(data.get("text/plain", "")), "".join(data.get("text/html", ""))]
    return "\n".join(text)


@pytest.mark.parametrize("chapter", [c for c in chapters.CHAPTERS if c.label], ids=lambda c: c.name)
def test_headline_numbers_are_printed_by_their_checked_cells(chapter):
    assert chapter.headline and chapter.headline_cells, f"{chapter.name}: give it a headline and its cells"
    notebook = ROOT / "notebooks" / chapter.notebook
    printed = "\n".join(_checked_outputs(notebook, cell) for cell in chapter.headline_cells)
    for value in re.findall(r"\d+\.\d+|\d+(?= %)", chapter.headline):  # decimals and percentages
        assert re.search(rf"(?<![\d.]){re.escape(value)}(?!\d)", printed), (
            f"{chapter.name}'s headline number {value} is not printed by cells {chapter.headline_cells}")


def test_workshop_plans_reach_part_4_with_real_chapters():
    labels = {c.label: c for c in chapters.CHAPTERS if c.label}
    assert [p.title for p in workshop_figures.PLANS] == ["Half day", "Full day", "Two days"]
    for plan in workshop_figures.PLANS:
        taught = [item for _, sessions in plan.days for item, _ in sessions if item in labels]
        assert any(labels[item].part == "4" for item in taught), f"the {plan.title} plan does not reach Part 4"
        for _, sessions in plan.days:
            assert workshop_figures.plan_minutes(sessions) <= 8 * 60
        guide = (ROOT / "book" / "instructor_guide.md").read_text(encoding="utf-8")
        for item in taught:
            chapter = labels[item]
            assert f"[{chapter.numbered_title}]" in guide and f"runs in {chapters.duration(chapter.run_s)}" in guide


def test_glossary_links_are_idempotent(tmp_path):
    terms = link_glossary.glossary_terms()
    assert {"state", "latent", "rollout", "teacher forcing", "exposure bias", "centroid error", "linear probe",
            "R²", "out-of-distribution"} <= set(terms)
    for name in ("01_what_is_a_world_model.ipynb", "04_next_frame.ipynb"):
        copy = tmp_path / name
        shutil.copy2(ROOT / "notebooks" / name, copy)
        link_glossary.link_notebook(copy, terms)
        once = copy.read_text()
        assert link_glossary.link_notebook(copy, terms) == []
        assert copy.read_text() == once
        cells = nbformat.read(copy, as_version=4).cells
        original = nbformat.read(ROOT / "notebooks" / name, as_version=4).cells
        assert [c for c in cells if c.cell_type == "code"] == [c for c in original if c.cell_type == "code"]


def test_linking_skips_code_math_headings_and_links(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "# The state\n`state` and $state$ and [state](x.md), then the state and the states.")])
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert link_glossary.link_notebook(path, ["state"]) == ["state"]
    text = nbformat.read(path, as_version=4).cells[0].source
    assert text == "# The state\n`state` and $state$ and [state](x.md), then the {term}`state` and the states."


def test_launch_buttons_only_with_a_repository_url():
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    assert config["repository"]["url"] == book_config.PLACEHOLDER or book_config.repository_url(config)
    off = book_config.final_config({**config, "repository": {"url": book_config.PLACEHOLDER}})
    assert not off["launch_buttons"]["binderhub_url"] and not off["html"]["use_repository_button"]
    assert "not set yet" in off["parse"]["myst_substitutions"]["repository_url"]
    on = book_config.final_config({**config, "repository": {"url": "https://github.com/someone/course"}})
    assert on["launch_buttons"]["binderhub_url"] == book_config.BINDER
    assert on["launch_buttons"]["colab_url"] == book_config.COLAB
    assert on["parse"]["myst_substitutions"]["repository_url"] == "https://github.com/someone/course"
    assert on["launch_buttons"]["thebe"] is False  # thebe loads scripts from the network


def test_binder_uses_the_pins_and_the_cpu_torch():
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert "-r ../requirements.txt" in text and "download.pytorch.org/whl/cpu" in text
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_jupyterlab_settings_silence_the_news():
    server = json.loads((ROOT / "jupyter" / "jupyter_server_config.json").read_text())
    assert server["LabApp"]["news_url"] is None
    page = json.loads((ROOT / "jupyter" / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"]["@jupyterlab/apputils-extension:announcements"] is True
    makefile = (ROOT / "Makefile").read_text()
    assert "JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter" in makefile and "--allow-root" in makefile


def test_every_book_page_is_in_the_table_of_contents():
    toc = (ROOT / "book" / "_toc.yml").read_text()
    included = {"exercise_statements"}  # included by exercises.md, not a page of its own
    missing = [p.stem for p in (ROOT / "book").glob("*.md") if p.stem not in included and f"book/{p.stem}\n" not in toc]
    assert not missing, f"book pages not in the table of contents: {missing} (add them to a Part in tools/chapters.py)"


@pytest.mark.parametrize("page", ["run_it_yourself", "instructor_guide", "course_map", "glossary", "grading"])
def test_workshop_pages_are_in_the_book(page):
    toc = (ROOT / "book" / "_toc.yml").read_text()
    assert f"book/{page}" in toc
