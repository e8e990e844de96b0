"""The book speaks to a learner: no project talk in any chapter's prose or outputs.

A chapter explains where a threshold comes from (a noise floor, an oracle, the real clips' own spread); it
never speaks of the project that wrote it: issues, targets set for the authors, stretch goals, what a
chapter "aimed for", load averages of the machine the outputs were made on, or results "not rerun here".
How the stored numbers were made (threads, recorded reference runs) is said once per chapter, in the
learner's terms. "target" alone is fine: it is the point chapter 8's planner steers to.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))

PROJECT_TALK = re.compile(
    r"\bissues?\b|\bissue's\b|\bload average|\bstretch (?:target|goal)|\bits stretch\b|\baimed for\b"
    r"|\b(?:our|course's|chapter's|project's) targets?\b|\bnot\s+rerun here\b|\bproject's issue"
    r"|\bbusy shared machine\b|\bprofiling diary\b|\bTODO\b|\bFIXME\b",
    re.IGNORECASE,
)


def _cell_text(cell: dict) -> str:
    text = "".join(cell.get("source", [])) if cell["cell_type"] == "markdown" else ""
    for output in cell.get("outputs", []):
        text += "".join(output.get("text", []))
        data = output.get("data", {})
        text += "".join(data.get("text/plain", [])) + "".join(data.get("text/markdown", []))
        text += "".join(data.get("text/html", []))
    return text


def project_talk(nb: dict) -> list[str]:
    """Each phrase of project talk in a notebook's markdown and outputs, with a little context."""
    hits = []
    for index, cell in enumerate(nb["cells"]):
        text = _cell_text(cell)
        for match in PROJECT_TALK.finditer(text):
            start = max(0, match.start() - 40)
            hits.append(f"cell {index}: ...{text[start:match.end() + 30]!r}...")
    return hits


def test_the_phrase_check_catches_project_talk():
    nb = {"cells": [{"cell_type": "markdown", "source": ["The issue's target was 4 px."]},
                    {"cell_type": "code", "source": [], "outputs": [{"text": ["load average 8.8\n"]}]},
                    {"cell_type": "markdown", "source": ["Move the ball onto the target; the target is 3 px wide."]}]}
    hits = project_talk(nb)
    assert {hit.split(":")[0] for hit in hits} == {"cell 0", "cell 1"}, hits


@pytest.mark.parametrize("path", PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_chapters_speak_to_a_learner(path):
    hits = project_talk(json.loads(path.read_text()))
    assert not hits, f"{path.name} speaks of the project, not the subject:\n" + "\n".join(hits)
