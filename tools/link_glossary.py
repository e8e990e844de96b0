"""Link each glossary term from its first use in a chapter: the {term} role of MyST, added idempotently.

    .venv/bin/python tools/link_glossary.py notebooks/05_learning_physics.ipynb ...   # edit in place
    .venv/bin/python tools/link_glossary.py --check notebooks/*.ipynb                 # list, change nothing

The terms are the entries of book/glossary.md. In each notebook, the first occurrence of each term in
the markdown (case-insensitive, a plural "s" allowed, line breaks between words allowed) becomes
{term}`text <term>`; headings, code, math, links, HTML and existing roles are never touched. A term the
notebook already links anywhere is left alone, so running the script again changes nothing. Only
markdown cells change: outputs, execution counts and metadata stay as they are (nbval is unaffected).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "book" / "glossary.md"

# Spans that must not change: fenced code, headings, directive lines, display and inline math, roles,
# inline code, links and images, HTML tags and bold labels such as **Goal:**.
PROTECTED = re.compile(
    r"```.*?```|~~~.*?~~~|^#.*?$|^:[\w-]+:.*?$|\$\$.*?\$\$|\$[^$\n]+\$|\{[\w:-]+\}`[^`]*`|``.*?``|`[^`\n]*`"
    r"|!?\[[^\]]*\]\([^)]*\)|<[^>\n]+>|\*\*Goal:\*\*",
    re.S | re.M,
)
ROLE = re.compile(r"\{term\}`([^`]*)`")


def glossary_terms(path: Path = GLOSSARY) -> list[str]:
    """The terms of the {glossary} block: its unindented lines."""
    text = path.read_text(encoding="utf-8")
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.S)
    if not block:
        raise ValueError(f"{path} has no ```{{glossary}} block")
    return [line.strip() for line in block.group(1).split("\n") if line.strip() and not line[0].isspace()]


def linked_terms(sources: list[str]) -> set[str]:
    found = set()
    for source in sources:
        for role in ROLE.findall(source):
            target = re.search(r"<([^>]*)>\s*$", role)
            found.add((target.group(1) if target else role).strip().lower())
    return found


def _pattern(term: str) -> re.Pattern:
    words = [re.escape(w) for w in term.split()]
    return re.compile(r"(?<![\w-])(" + r"\s+".join(words) + r")(s?)(?![\w-])", re.I)


def _first_free_match(source: str, pattern: re.Pattern):
    protected = [m.span() for m in PROTECTED.finditer(source)]
    for match in pattern.finditer(source):
        if not any(a <= match.start() < b or a < match.end() <= b for a, b in protected):
            return match
    return None


def link_notebook(path: Path, terms: list[str], write: bool = True) -> list[str]:
    """Add the missing first-use links of `terms` to the notebook at `path`; return the terms linked."""
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "markdown"]
    done = linked_terms([c.source for c in cells])
    added = []
    # Longer terms first, so "linear probe" is linked before a shorter term could claim its words.
    for term in sorted(terms, key=len, reverse=True):
        if term.lower() in done:
            continue
        pattern = _pattern(term)
        for cell in cells:
            match = _first_free_match(cell.source, pattern)
            if match:
                text = " ".join(match.group(0).split())
                role = f"{{term}}`{text}`" if text == term else f"{{term}}`{text} <{term}>`"
                cell.source = cell.source[: match.start()] + role + cell.source[match.end():]
                added.append(term)
                break
    if added and write:
        nbformat.write(nb, path)
    return added


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="report the links that are missing; write nothing")
    args = parser.parse_args()
    terms = glossary_terms()
    missing = 0
    for path in args.notebooks:
        added = link_notebook(path, terms, write=not args.check)
        missing += len(added)
        verb = "would link" if args.check else "linked"
        print(f"{path}: {verb} {len(added)} term(s)" + (f": {', '.join(sorted(added))}" if added else ""))
    return 1 if args.check and missing else 0


if __name__ == "__main__":
    sys.exit(main())
