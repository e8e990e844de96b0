"""Prose cannot drift from outputs: every decimal number a chapter's text states is printed by a checked cell.

For each chapter in notebooks/, every decimal number in its markdown (outside code spans and link targets)
must appear in the text output of a checked cell of the same notebook (tag nbval-check-output or
nbval-tolerance, both re-run and compared by nbval in `make test`):

- against an exact cell, the prose number must be the printed number or that number rounded to the
  prose's digits ("0.713" printed, "0.71" written);
- against a tolerance cell, it must be within that cell's tolerance of a printed number.

Numbers that come from the literature or the set-up are listed, with a reason, in the notebook's metadata
`prose_numbers_exempt` ({"0.23": "reference figure ..."}); an exemption that the text no longer uses fails.
"""

import json
import re
from pathlib import Path

import pytest

from nbval_tolerance import NUMBER, TAG_EXACT, TAG_TOLERANCE, allowed_difference, check_tolerance

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))

DECIMAL = re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?![\w.]*\d)")
CODE_SPAN = re.compile(r"`[^`]*`")
LINK_TARGET = re.compile(r"\]\([^)]*\)|\{cite[^`]*`[^`]*`|<[^>]+>")
# Section numbers are names, not results: "## 4.2 Blur", "§4.4", "section 5.1", "sections 5.1 and 5.3".
SECTION_REF = re.compile(r"(?:^#+|§|\b[Ss]ections?)\s*\d+(?:\.\d+)*(?:\s*(?:,|and|or|to|–|-)\s*§?\d+(?:\.\d+)*)*", re.M)


def _text(value) -> str:
    return value if isinstance(value, str) else "".join(value)


def prose_decimals(nb: dict) -> list[str]:
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = SECTION_REF.sub(" ", LINK_TARGET.sub(" ", CODE_SPAN.sub(" ", _text(cell["source"]))))
        found += [m.group().lstrip("+") for m in DECIMAL.finditer(text)]
    return found


def checked_numbers(nb: dict) -> list[tuple[str, dict | None]]:
    """(printed number, tolerance or None for exact) for every number in a checked cell's text output."""
    out = []
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or not {TAG_EXACT, TAG_TOLERANCE} & set(tags):
            continue
        tolerance = check_tolerance(cell["metadata"]["tolerance"]) if TAG_TOLERANCE in tags else None
        for output in cell.get("outputs", []):
            texts = [_text(output["text"])] if output["output_type"] == "stream" else []
            texts += [_text(output.get("data", {}).get("text/plain", ""))]
            for text in texts:
                out += [(m.group(), tolerance) for m in NUMBER.finditer(text)]
    return out


def supported(prose: str, printed: list[tuple[str, dict | None]]) -> bool:
    value, digits = float(prose), len(prose.partition(".")[2])
    for number, tolerance in printed:
        if tolerance is None:
            if number.lstrip("+") == prose or round(float(number), digits) == value:
                return True
        elif abs(float(number) - value) <= allowed_difference(number, tolerance) + 0.5 * 10.0 ** -digits:
            return True
    return False


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_decimal_in_the_text_is_printed_by_a_checked_cell(path):
    nb = json.loads(path.read_text())
    exempt = nb["metadata"].get("prose_numbers_exempt", {})
    assert isinstance(exempt, dict), "prose_numbers_exempt must map a number to the reason it is exempt"
    printed = checked_numbers(nb)
    prose = prose_decimals(nb)
    missing = sorted({p for p in prose if p not in exempt and not supported(p, printed)}, key=float)
    assert not missing, (
        f"{path.name}: the text states {missing}, which no checked cell prints (print them in a cell tagged "
        "nbval-check-output / nbval-tolerance, fix the text, or exempt them with a reason in the notebook "
        "metadata prose_numbers_exempt)"
    )
    stale = sorted(set(exempt) - set(prose))
    assert not stale, f"{path.name}: prose_numbers_exempt lists {stale}, which the text no longer states"
    assert all(isinstance(r, str) and r.strip() for r in exempt.values()), "every exemption needs a reason"


def test_the_checker_catches_a_drifted_number():
    nb = {"metadata": {}, "cells": [
        {"cell_type": "markdown", "source": "## 4.2 Blur\nThe model reaches 0.29 px (§4.4, sections 4.1 and 4.3), "
                                            "the oracle `0.5` and [x](a1.2.html)."},
        {"cell_type": "code", "metadata": {"tags": [TAG_EXACT]},
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "0.2893 px\n"}]},
    ]}
    assert prose_decimals(nb) == ["0.29"]
    assert supported("0.29", checked_numbers(nb))
    assert not supported("0.30", checked_numbers(nb))
    nb["cells"][1]["metadata"] = {"tags": [TAG_TOLERANCE], "tolerance": {"rel": 0.05}}
    assert supported("0.30", checked_numbers(nb))
    assert not supported("0.40", checked_numbers(nb))
