"""nbval, extended: numbers that come from float32 training are compared within a stated tolerance.

A chapter's stored outputs are checked against a fresh run by nbval. Two kinds of checked cells:

- tag ``nbval-check-output``: nbval's own exact comparison. For numbers that are exact on every machine
  (the simulator, the data, counts, deterministic float64 NumPy).
- tag ``nbval-tolerance`` with cell metadata ``"tolerance": {"rel": r}`` (optionally ``"abs": a``): for
  numbers that come from float32 torch training or inference, which round differently on another CPU
  or with another thread count. The text around the numbers must be identical (runs of whitespace
  count as one space, so aligned columns may shift); every number must be within

      |fresh - stored| <= abs + rel * |stored| + one unit of the stored number's last printed digit

  ("0.29" may become 0.28 or 0.30 by rounding alone). The tolerances are measured, not guessed: run
  ``python tests/nbval_tolerance.py measure`` over notebooks executed under other configurations
  (README, "For authors").

Use it with ``python -m pytest -p tests.nbval_tolerance --nbval-lax notebooks solutions``. The same
number tools serve the prose check (tests/test_prose_numbers.py).
"""

from __future__ import annotations

import json
import math
import re
import sys
import types
from pathlib import Path

TAG_EXACT = "nbval-check-output"
TAG_TOLERANCE = "nbval-tolerance"

# A number not glued to a word or to another number: "k=20" -> 20, "x0" -> nothing, "ex2.1" -> nothing,
# "-0.5" -> -0.5, "1.2e-03" -> 1.2e-03, "2-3" -> 2 and 3.
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")
_SPACES = re.compile(r"\s+")


# ------------------------------------------------------------------------------------ the numbers


def split_numbers(text: str) -> tuple[list[str], list[str]]:
    """Split text into its numbers and the text between them (whitespace runs collapsed).

    Returns ``(numbers, pieces)`` with ``len(pieces) == len(numbers) + 1``.
    """
    numbers, pieces, last = [], [], 0
    for match in NUMBER.finditer(text):
        numbers.append(match.group())
        pieces.append(_SPACES.sub(" ", text[last : match.start()]))
        last = match.end()
    pieces.append(_SPACES.sub(" ", text[last:]))
    return numbers, pieces


def quantum(number: str) -> float:
    """One unit of the last printed digit: "0.29" -> 0.01, "40" -> 1, "1.5e-03" -> 1e-04."""
    mantissa, _, exponent = number.lower().lstrip("+-").partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def allowed_difference(stored: str, tolerance: dict) -> float:
    allowed = tolerance.get("abs", 0.0) + tolerance.get("rel", 0.0) * abs(float(stored)) + quantum(stored)
    return allowed * (1 + 1e-9)  # "0.30" - "0.29" is 0.010000000000000009 in binary floating point


def check_tolerance(tolerance) -> dict:
    """Validate a cell's tolerance metadata; return it as a dict of floats."""
    if not isinstance(tolerance, dict) or not tolerance or set(tolerance) - {"rel", "abs"}:
        raise ValueError(f'tolerance must be a dict with keys "rel" and/or "abs", got {tolerance!r}')
    for key, value in tolerance.items():
        if not isinstance(value, (int, float)) or not 0 <= value < 1e6 or (key == "rel" and value > 1):
            raise ValueError(f"tolerance {key} must be a number >= 0 (rel <= 1), got {value!r}")
    return {key: float(value) for key, value in tolerance.items()}


def compare_text(stored: str, fresh: str, tolerance: dict) -> str | None:
    """None when ``fresh`` matches ``stored`` within ``tolerance``; otherwise the first difference, in words."""
    stored_numbers, stored_pieces = split_numbers(stored)
    fresh_numbers, fresh_pieces = split_numbers(fresh)
    if stored_pieces != fresh_pieces:
        for i, (a, b) in enumerate(zip(stored_pieces, fresh_pieces)):
            if a != b:
                return f"the text differs: stored {a!r}, fresh {b!r} (after number {i})"
        return f"the output has {len(fresh_numbers)} numbers, the stored one {len(stored_numbers)}"
    for a, b in zip(stored_numbers, fresh_numbers):
        if not abs(float(b) - float(a)) <= allowed_difference(a, tolerance):
            return f"{b} differs from the stored {a} by more than {allowed_difference(a, tolerance):.3g} ({tolerance})"
    return None


def needed_rel(stored: str, fresh: str) -> float | None:
    """The smallest ``rel`` under which ``fresh`` matches ``stored`` (with abs = 0); None if the text differs."""
    stored_numbers, stored_pieces = split_numbers(stored)
    fresh_numbers, fresh_pieces = split_numbers(fresh)
    if stored_pieces != fresh_pieces:
        return None
    rel = 0.0
    for a, b in zip(stored_numbers, fresh_numbers):
        excess = abs(float(b) - float(a)) - quantum(a) * (1 + 1e-9)
        if excess > 1e-12:
            rel = max(rel, excess / abs(float(a)) if float(a) else math.inf)
    return rel


# ------------------------------------------------------------------------------------ the plugin


class TolerantText(str):
    """A string that nbval's comparison (``ref != test``) treats as equal within a tolerance."""

    tolerance: dict = {}

    def __eq__(self, other):
        return isinstance(other, str) and compare_text(str(self), str(other), self.tolerance) is None

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__


def _tolerant_sanitize(item, tolerance):
    original = item.sanitize

    def sanitize(self, s):
        s = original(s)
        if not isinstance(s, str):
            return s
        text = TolerantText(s)
        text.tolerance = tolerance
        return text

    return types.MethodType(sanitize, item)


def pytest_collection_modifyitems(session, config, items):
    """Turn cells tagged nbval-tolerance into checked cells compared within their tolerance."""
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is None or not hasattr(item, "compare_outputs"):
            continue
        tags = cell.metadata.get("tags", [])
        if TAG_TOLERANCE not in tags:
            if "tolerance" in cell.metadata:
                raise ValueError(f"{item.nodeid}: has tolerance metadata but no {TAG_TOLERANCE} tag")
            continue
        if TAG_EXACT in tags:
            raise ValueError(f"{item.nodeid}: tagged both {TAG_EXACT} and {TAG_TOLERANCE}; keep one")
        tolerance = check_tolerance(cell.metadata.get("tolerance"))
        item.options["check"] = True
        item.sanitize = _tolerant_sanitize(item, tolerance)


# ------------------------------------------------------------------------------ measuring the spread


def _cell_texts(cell) -> list[str]:
    """The comparable text outputs of a cell, in order: streams (per name, joined) and text/plain."""
    def joined(text):
        return text if isinstance(text, str) else "".join(text)

    texts, streams = [], {}
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            streams[out["name"]] = streams.get(out["name"], "") + joined(out["text"])
        elif "data" in out and "text/plain" in out["data"]:
            texts.append(joined(out["data"]["text/plain"]))
    return [*(streams[name] for name in sorted(streams)), *texts]


def _source(cell) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def measure(reference: Path, runs: list[Path]) -> list[dict]:
    """Compare the checked cells of stored notebooks with the same notebooks executed elsewhere.

    ``reference`` is a notebook or a folder of notebooks; each run folder holds executed copies with the
    same names. Returns one row per checked cell: notebook, cell index, tag, the needed rel per run
    (None where the text itself differs), and the current tolerance.
    """
    paths = sorted(reference.glob("*.ipynb")) if reference.is_dir() else [reference]
    rows = []
    for path in paths:
        cells = json.loads(path.read_text())["cells"]
        fresh_cells = []
        for run in runs:
            fresh_path = run / path.name
            fresh_cells.append(json.loads(fresh_path.read_text())["cells"] if fresh_path.exists() else None)
        for index, cell in enumerate(cells):
            tags = cell.get("metadata", {}).get("tags", [])
            tag = TAG_TOLERANCE if TAG_TOLERANCE in tags else TAG_EXACT if TAG_EXACT in tags else None
            if cell["cell_type"] != "code" or tag is None:
                continue
            needs, identical = [], []
            for fresh in fresh_cells:
                if fresh is None or len(fresh) != len(cells) or _source(fresh[index]) != _source(cell):
                    needs.append("missing")
                    continue
                stored_texts, fresh_texts = _cell_texts(cell), _cell_texts(fresh[index])
                identical.append(stored_texts == fresh_texts)
                if len(stored_texts) != len(fresh_texts):
                    needs.append(None)
                    continue
                rels = [needed_rel(a, b) for a, b in zip(stored_texts, fresh_texts)]
                needs.append(None if None in rels else max(rels, default=0.0))
            rows.append({"notebook": path.name, "cell": index, "tag": tag, "needed_rel": needs,
                         "identical": len(identical) == len(runs) and all(identical),
                         "tolerance": cell.get("metadata", {}).get("tolerance")})
    return rows


def _nice_ceiling(value: float) -> float:
    """Round up to 1, 2 or 5 times a power of ten: 0.013 -> 0.02."""
    if value <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power


def write_tolerances(reference: Path, rows: list[dict], margin: float, floor: float) -> list[str]:
    """Set each nbval-tolerance cell's rel to max(floor, margin x the largest needed rel), rounded up."""
    changed = []
    by_notebook: dict[str, list[dict]] = {}
    for row in rows:
        if row["tag"] == TAG_TOLERANCE:
            by_notebook.setdefault(row["notebook"], []).append(row)
    for name, cell_rows in by_notebook.items():
        path = reference / name if reference.is_dir() else reference
        nb = json.loads(path.read_text())
        for row in cell_rows:
            needs = [n for n in row["needed_rel"] if isinstance(n, float)]
            if len(needs) != len(row["needed_rel"]):
                continue  # text differs or run missing: a person must look
            rel = max(floor, _nice_ceiling(margin * max(needs, default=0.0)))
            meta = nb["cells"][row["cell"]].setdefault("metadata", {})
            if meta.get("tolerance") != {"rel": rel}:
                meta["tolerance"] = {"rel": rel}
                changed.append(f"{name} cell {row['cell']}: rel {rel}")
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python tests/nbval_tolerance.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure", help="compare stored checked outputs with runs made under other configurations")
    m.add_argument("reference", type=Path, help="a notebook or a folder of stored notebooks (e.g. notebooks)")
    m.add_argument("runs", type=Path, nargs="+", help="folders of the same notebooks executed elsewhere")
    m.add_argument("--write", action="store_true", help="write the derived tolerances into the stored notebooks")
    m.add_argument("--margin", type=float, default=2.0, help="tolerance = margin x the largest spread seen")
    m.add_argument("--floor", type=float, default=0.02, help="smallest rel written for a tolerance cell")
    args = parser.parse_args(argv)
    rows = measure(args.reference, args.runs)
    problems = 0
    for row in rows:
        needs = row["needed_rel"]
        flag = ""
        if any(n is None or n == "missing" for n in needs):
            flag = "TEXT DIFFERS" if None in needs else "MISSING"
            problems += 1
        elif row["tag"] == TAG_EXACT and not row["identical"]:
            flag = "EXACT CELL CHANGED"  # exact cells must be identical, not just equal after rounding
            problems += 1
        shown = ["-" if n is None else n if isinstance(n, str) else f"{n:.4f}" for n in needs]
        print(f"{row['notebook']:45s} cell {row['cell']:3d} {row['tag']:19s} needed rel {shown} "
              f"tolerance {row['tolerance']} {flag}")
    if args.write:
        for line in write_tolerances(args.reference, rows, args.margin, args.floor):
            print("wrote", line)
    print(json.dumps({"checked_cells": len(rows), "problems": problems}))
    return 1 if any("missing" in row["needed_rel"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
