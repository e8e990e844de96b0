"""Keep stored notebooks quiet in diffs: run by `make execute` after executing them.

Removes what changes from run to run without the results changing: per-cell execution timings,
notebook-level widget state, and the live widget view (a random model id) stored by interactive cells
tagged `remove-output` (the book hides those outputs and shows a static equivalent next to them).

    python tests/tidy_notebooks.py notebooks/*.ipynb solutions/*.ipynb
"""

import json
import sys
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def tidy(nb: dict) -> dict:
    nb["metadata"].pop("widgets", None)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
        if cell["cell_type"] == "code" and "remove-output" in cell.get("metadata", {}).get("tags", []):
            cell["outputs"] = [out for out in cell["outputs"] if WIDGET_VIEW not in out.get("data", {})]
    return nb


def main(paths: list[str]) -> int:
    for path in map(Path, paths):
        text = path.read_text()
        tidied = json.dumps(tidy(json.loads(text)), indent=1, ensure_ascii=False) + "\n"
        if tidied != text:
            path.write_text(tidied)
            print("tidied", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
