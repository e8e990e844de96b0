"""The generated and workshop pages of the book stay true: exercises page in sync with solutions/ (and
free of solutions), course map numbers printed by their chapters, glossary links idempotent, launch
buttons only with a repository URL, the JupyterLab settings that silence the news prompt present."""

import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))

import book_config  # noqa: E402
import course_map  # noqa: E402
import exercise_statements  # noqa: E402
import link_glossary  # noqa: E402


def test_exercise_page_is_up_to_date():
    current = exercise_statements.PAGE.read_text(encoding="utf-8")
    assert current == exercise_statements.page(), (
        "book/exercise_statements.md is stale: run `.venv/bin/python book/exercise_statements.py` (make book does)")


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


def _outputs_text(path: Path) -> str:
    text = []
    for cell in json.loads(path.read_text())["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text += ["".join(out.get("text", "")), "".join(data.get("text/plain", "")), "".join(data.get("text/html", ""))]
    return "\n".join(text)


def test_course_map_numbers_are_printed_by_their_chapters():
    chapters = {int(p.name[:2]): p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    missing = sorted(set(chapters) - set(course_map.CHAPTERS))
    assert not missing, f"chapters {missing} have no entry in book/course_map.py CHAPTERS (use None until measured)"
    for number, chapter in course_map.CHAPTERS.items():
        assert chapter["stage"] in course_map.STAGES
        if chapter["headline"] is None:
            continue
        assert number in chapters, f"chapter {number} has a headline but no notebook"
        assert chapter["run_s"] and chapter["study_min"], f"chapter {number}: fill in run_s and study_min too"
        printed = _outputs_text(chapters[number])
        for value in re.findall(r"\d+\.\d+", chapter["headline"]):
            assert value in printed, f"chapter {number}'s headline number {value} is not printed by the chapter"


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


@pytest.mark.parametrize("page", ["run_it_yourself", "instructor_guide", "course_map", "glossary"])
def test_workshop_pages_are_in_the_book(page):
    toc = (ROOT / "book" / "_toc.yml").read_text()
    assert f"book/{page}" in toc
