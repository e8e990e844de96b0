"""Write every list of chapters from the table of chapters (tools/chapters.py).

    .venv/bin/python tools/front_matter.py          # rewrite what is stale (make book runs it)
    .venv/bin/python tools/front_matter.py --check  # exit 1 and name what is stale

Writes book/_toc.yml whole, and in the other files only the part between a pair of marker comments,
`<!-- chapters:NAME -->` and `<!-- /chapters:NAME -->` (leave the markers in place; write prose around
them): the README's and CONTRIBUTING's chapter tables, the intro's questions, chapter 1's road ahead (a
markdown cell of notebooks/01_what_is_a_world_model.ipynb), the course map's cards and study-time table
(book/course_map.md) and the instructor's guide's run times and workshop plans (book/instructor_guide.md).
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chapters import CHAPTERS, PARTS, STAGES, Chapter, chapters, duration, study_time  # noqa: E402
from workshop_figures import PLANS, plan_minutes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# What a workshop plan may name: a chapter by its label, a companion page by its notebook's first word.
LABELS = {c.label or c.notebook.split("_")[0]: c for c in CHAPTERS}


def _link(chapter: Chapter) -> str:
    """A link from a page in book/ to the chapter's page."""
    return f"[{chapter.numbered_title}](../notebooks/{chapter.notebook})"


def _part_label(chapter: Chapter) -> str:
    caption = PARTS[chapter.part].caption
    return caption.split(":")[0].removeprefix("Part ") if caption.startswith("Part ") else caption


def readme_table() -> str:
    rows = ["| # | Chapter | The question | Runs in (2 CPU cores) |", "| --- | --- | --- | --- |"]
    rows += [f"| {c.label} | {c.title} (`notebooks/{c.notebook}`) | {c.question} | {duration(c.run_s)} |"
             for c in chapters()]
    return "\n".join(rows)


def contributing_table() -> str:
    rows = ["| # | Notebook | Exercises (`solutions/`) | Measured | Budget | Headline (checked cell) |",
            "| --- | --- | --- | --- | --- | --- |"]
    for c in chapters(companions=True):
        cells = ", ".join(f"`{cell}`" for cell in c.headline_cells)
        rows.append(f"| {c.label or '–'} | `{c.notebook}` | {f'`{c.exercises}`' if c.exercises else '–'} | "
                    f"{duration(c.run_s)} | ≤ {duration(c.budget_s)} | "
                    f"{f'{c.headline} ({cells})' if c.headline else '–'} |")
    return "\n".join(rows)


def intro_table() -> str:
    rows = ["| Part | Chapter | The question it answers |", "| --- | --- | --- |"]
    rows += [f"| {_part_label(c)} | {_link(c)} | {c.question} |" for c in chapters()]
    return "\n".join(rows)


def road_ahead() -> str:
    rows = ["| Part | Chapters | What we build | The question |", "| --- | --- | --- | --- |"]
    for key, part in PARTS.items():
        members = chapters(key)
        if key == "foundations" or not members:
            continue  # chapter 1 is where the reader stands
        titles = "; ".join(f"{c.label}. {c.title}" for c in members)
        rows.append(f"| {_part_label(members[0])} | {titles} | {part.builds} | {part.question} |")
    return "\n".join(rows)


def study_table() -> str:
    rows = ["| Chapter | Measured here | Budget | Study time |", "| --- | --- | --- | --- |"]
    rows += [f"| {_link(c)} | {duration(c.run_s)} | ≤ {duration(c.budget_s)} | "
             f"{study_time(c.study_min)} |" for c in chapters(companions=True)]
    hours = round(sum(c.study_min for c in chapters()) / 60)
    return "\n".join(rows) + f"\n\nSelf-paced, the chapters and the appendix take about {hours} hours of study."


def course_map_cards() -> str:
    """One card per chapter, the appendix and the explorer, grouped by part: raw HTML for MyST (no blank
    line inside, so markdown leaves it alone), styled by book/_static/course.css."""
    out = ['<div class="course-map">']
    for key, part in PARTS.items():
        members = chapters(key, companions=True)
        if not members:
            continue
        out.append(f'<p class="course-map-part">{html.escape(part.caption)}</p>')
        for c in members:
            page = "../notebooks/" + c.notebook.removesuffix(".ipynb") + ".html"
            headline = c.headline or c.question
            out += [f'<a class="course-map-card" style="--stage-color: {STAGES[c.stage]}" href="{page}">',
                    f'<span class="course-map-label">{html.escape(c.name if c.label else "companion")} · '
                    f'{c.stage}</span>',
                    f'<span class="course-map-title">{html.escape(c.title)}</span>',
                    f'<span class="course-map-headline">{html.escape(headline)}</span>',
                    f'<span class="course-map-time">runs in {duration(c.run_s)} · study {study_time(c.study_min)}'
                    '</span>', '</a>']
    out.append("</div>")
    return "\n".join(out)


def guide_plans() -> str:
    lines = []
    for plan in PLANS:
        hours = " + ".join(study_time(plan_minutes(sessions)) for _, sessions in plan.days)
        lines += [f"**{plan.title} ({hours}).** {plan.summary}", ""]
        for day, sessions in plan.days:
            if day:
                lines += [f"*{day}:*", ""]
            for item, minutes in sessions:
                if item in LABELS:
                    c = LABELS[item]
                    lines.append(f"- {_link(c)}: {minutes} min in the room (the notebook runs in {duration(c.run_s)})")
                else:
                    lines.append(f"- {item}: {minutes} min")
            lines.append("")
    return "\n".join(lines).rstrip()


def toc() -> str:
    lines = ["# Generated by tools/front_matter.py from tools/chapters.py: edit those, not this file.",
             "format: jb-book", "root: book/intro", "parts:"]
    for key, part in PARTS.items():
        notebooks = [f"notebooks/{c.notebook.removesuffix('.ipynb')}" for c in chapters(key, companions=True)]
        lines += [f'  - caption: "{part.caption}"', "    chapters:"]
        lines += [f"      - file: {f}" for f in (*part.before, *notebooks, *part.after)]
    return "\n".join(lines) + "\n"


# (file, marker name, generator) for every generated block.
BLOCKS = (
    ("README.md", "table", readme_table),
    ("CONTRIBUTING.md", "table", contributing_table),
    ("book/intro.md", "questions", intro_table),
    ("book/course_map.md", "cards", course_map_cards),
    ("book/course_map.md", "study-time", study_table),
    ("book/instructor_guide.md", "run-times", study_table),
    ("book/instructor_guide.md", "plans", guide_plans),
    ("notebooks/01_what_is_a_world_model.ipynb", "road-ahead", road_ahead),
)


def replace_block(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- chapters:{name} -->", f"<!-- /chapters:{name} -->"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"no {begin} ... {end} markers")
    return pattern.sub(lambda _: f"{begin}\n\n{body}\n\n{end}", text, count=1)


def _notebook_update(path: Path, name: str, body: str) -> str:
    """The notebook's text with the block replaced in the one markdown cell that holds its markers (the
    file's own text, byte for byte, when the block is current)."""
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and f"<!-- chapters:{name} -->" in cell.source:
            new = replace_block(cell.source, name, body)
            if new == cell.source:
                return text
            cell.source = new
            return nbformat.writes(nb) + "\n"
    raise ValueError(f"{path.name}: no markdown cell holds <!-- chapters:{name} -->")


def generated() -> dict[Path, str]:
    """Every generated file's full new text."""
    texts: dict[Path, str] = {ROOT / "book" / "_toc.yml": toc()}
    for relative, name, make in BLOCKS:
        path = ROOT / relative
        if path.suffix == ".ipynb":
            texts[path] = _notebook_update(path, name, make())
            continue
        current = texts.get(path) or path.read_text(encoding="utf-8")
        texts[path] = replace_block(current, name, make())
    return texts


def stale() -> list[str]:
    return [str(p.relative_to(ROOT)) for p, text in generated().items()
            if not p.exists() or p.read_text(encoding="utf-8") != text]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated list is stale")
    args = parser.parse_args()
    if args.check:
        names = stale()
        for name in names:
            print(f"stale: {name} (run .venv/bin/python tools/front_matter.py)")
        return 1 if names else 0
    for path, text in generated().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
