"""Exercise markers in a solutions notebook, and the student notebook generated from it.

An exercise cell starts with `# EXERCISE ex2.1 (2 points)` (`exA1.1` in appendix 1); its solution lines sit between
`### BEGIN SOLUTION` and `### END SOLUTION` inside a function body. Generating the student version
replaces each region by `raise NotImplementedError("ex2.1: ...")` at the region's indentation and
clears every output; all else stays byte-for-byte the same.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .registry import CHAPTER

MARKER = re.compile(rf"^#\s*EXERCISE\s+(ex{CHAPTER}\.\d+)\s*\((\d+(?:\.\d+)?)\s+points?\)\s*$")
LOOSE_MARKER = re.compile(r"^#\s*EXERCISE\b")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("{id}: replace this line with your solution")'


@dataclass(frozen=True)
class Exercise:
    id: str
    points: float
    cell: int  # index in the notebook's cells


def marker_of(source: str) -> tuple[str, float] | None:
    """(id, points) if the cell's first non-blank line is an exercise marker, else None."""
    for line in source.splitlines():
        if line.strip():
            match = MARKER.match(line.strip())
            if match:
                return match.group(1), float(match.group(2))
            if LOOSE_MARKER.match(line.strip()):
                raise ValueError(f"malformed exercise marker {line.strip()!r}: write '# EXERCISE ex1.2 (3 points)'")
            return None
    return None


def exercises(nb) -> list[Exercise]:
    """The exercises of a notebook (an nbformat node) in order; duplicate ids are a ValueError."""
    found, seen = [], set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        marker = marker_of(cell.source)
        if marker:
            if marker[0] in seen:
                raise ValueError(f"exercise {marker[0]} is marked twice (cell {index}); give each exercise its own id")
            seen.add(marker[0])
            found.append(Exercise(marker[0], marker[1], index))
    return found


def strip_solutions(source: str, exercise: str) -> str:
    """Replace each BEGIN/END SOLUTION region of one cell's source by a NotImplementedError stub."""
    out, inside = [], False
    for number, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"{exercise}: '{BEGIN}' on line {number} inside another solution region")
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + STUB.format(id=exercise))
        elif stripped == END:
            if not inside:
                raise ValueError(f"{exercise}: '{END}' on line {number} without a '{BEGIN}' before it")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{exercise}: '{BEGIN}' is never closed by '{END}'")
    return "\n".join(out)


def student_notebook(solutions):
    """The student version of a solutions notebook (an nbformat node; the input is not modified)."""
    nb = nbformat.from_dict(solutions)
    current = None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            if BEGIN in cell.source:
                raise ValueError(f"cell {index} is markdown but holds '{BEGIN}'; solution regions go in code cells")
            continue
        current = (marker_of(cell.source) or (None,))[0]
        if BEGIN in cell.source or END in cell.source:
            if current is None:
                raise ValueError(f"cell {index} holds a solution region but no '# EXERCISE exN.M (P points)' marker")
            cell.source = strip_solutions(cell.source, current)
            try:
                ast.parse(cell.source)
            except SyntaxError as error:
                raise ValueError(f"{current}: the generated stub of cell {index} is not valid Python ({error}); "
                                 "put the solution region inside a function body") from error
        cell.outputs = []
        cell.execution_count = None
        # Timestamps of the last run of the solutions say nothing to a learner and would make the
        # generated notebooks change with every `make execute`.
        cell.metadata.pop("execution", None)
    return nb


def render(nb) -> str:
    """A notebook as the text nbformat writes, so that generated files compare byte for byte."""
    return nbformat.writes(nb) + "\n"


def generate(solutions_dir: Path, exercises_dir: Path, check_only: bool = False) -> list[str]:
    """Write exercises_dir/NN_name.ipynb for each solutions notebook; return the stale (or written) files.

    With check_only, nothing is written: the return value lists files that are missing, differ from a
    fresh generation, or have no solutions notebook behind them.
    """
    solutions_dir, exercises_dir = Path(solutions_dir), Path(exercises_dir)
    if not solutions_dir.is_dir():
        raise ValueError(f"no solutions folder at {solutions_dir}")
    changed = []
    sources = sorted(solutions_dir.glob("*.ipynb"))
    for path in sources:
        text = render(student_notebook(nbformat.read(path, as_version=4)))
        target = exercises_dir / path.name
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            changed.append(str(target))
            if not check_only:
                exercises_dir.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    names = {p.name for p in sources}
    orphans = [str(p) for p in sorted(exercises_dir.glob("*.ipynb")) if p.name not in names]
    return changed + (orphans if check_only else [])
