"""The workshop plans of the instructor's guide, the two figures of the workshop pages, and the diagram of
the page on content, consent and copyright.

    .venv/bin/python tools/workshop_figures.py   # writes book/images/{workshop_plans,setup_routes,provenance}.svg

`PLANS` is the one source of the plans: tools/front_matter.py writes them, with each chapter's measured run
time from the table of chapters (tools/chapters.py), into book/instructor_guide.md, and this script draws
them. Run it (`make figures`) after changing a plan.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chapters import CHAPTERS, STAGES  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "book" / "images"
Session = tuple[str, int]  # (a chapter's label, "explore" (the explorer), "break", "lunch", ...; minutes)


@dataclass(frozen=True)
class Plan:
    title: str
    summary: str
    days: tuple[tuple[str, tuple[Session, ...]], ...]  # (the day's name, "" for a one-day plan; its sessions)


PLANS = (
    Plan("Half day", "From a simulator to a world model that decides. Chapter 1 sets up the laboratory, "
         "chapter 5 trains the world model live while you explain the rollout loss, and chapter 8 plans in "
         "it; in the explorer participants push the ball themselves, and the wrap-up asks what a world model is "
         "and is not. Chapters 2–4 and 6 are homework "
         "(point to their exercises).",
         (("", (("1", 40), ("5", 60), ("break", 15), ("explore", 20), ("8", 55),
                ("wrap-up", 20))),)),
    Plan("Full day", "From next-token prediction to deciding and generating. Give each chapter's exercises 15–20 "
         "minutes in the room and leave the rest, and chapters 3, 7 and 10, for after the workshop.",
         (("", (("1", 35), ("2", 50), ("break", 15), ("4", 45), ("5", 60), ("lunch", 60), ("6", 40), ("8", 50),
                ("break", 15), ("9", 45), ("wrap-up", 15))),)),
    Plan("Two days", "Every chapter: Parts 1–3 on the first day, Parts 4 and 5 on the second, with time for each "
         "chapter's exercises in the room; the appendix is homework, or a demonstration on a machine with GPUs.",
         (("Day 1", (("1", 40), ("2", 60), ("break", 15), ("3", 45), ("4", 50), ("lunch", 60), ("5", 60),
                     ("explore", 20), ("break", 15), ("6", 50), ("7", 50))),
          ("Day 2", (("8", 55), ("break", 15), ("9", 60), ("10", 45), ("lunch", 60), ("11", 45), ("12", 50),
                     ("break", 15), ("13", 45), ("wrap-up", 20))))),
)


def plan_minutes(sessions) -> int:
    return sum(minutes for _, minutes in sessions)


def _save(fig, name):
    import matplotlib.pyplot as plt

    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / name, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)


def workshop_plans():
    """Every plan's days as timelines: one bar segment per session, coloured by the chapter's stage."""
    import matplotlib.pyplot as plt

    stages = {c.label: c.stage for c in CHAPTERS if c.label}
    rows = [(f"{plan.title}{', ' + day.lower() if day else ''}", sessions)
            for plan in PLANS for day, sessions in plan.days]
    fig, ax = plt.subplots(figsize=(7.0, 0.6 * len(rows) + 0.7))
    for row, (_, sessions) in enumerate(rows):
        start = 0
        for item, minutes in sessions:
            stage = stages.get(item)
            color = STAGES[stage] if stage else "#d9d9d9"
            ax.barh(row, minutes, left=start, color=color, edgecolor="white", height=0.7)
            label = f"ch. {item}" if stage else "lunch" if item == "lunch" else ""
            if label:  # breaks, the explorer and the wrap-up stay unlabelled grey: too short to name
                ax.text(start + minutes / 2, row, label, ha="center", va="center", fontsize=10,
                        color="white" if stage else "black")
            start += minutes
    ax.set_yticks(range(len(rows)), [f"{name} ({plan_minutes(s) // 60} h {plan_minutes(s) % 60:02d})"
                                     for name, s in rows])
    ax.invert_yaxis()
    ax.set_xlabel("minutes from the start of the day")
    ax.spines[["top", "right", "left"]].set_visible(False)
    _save(fig, "workshop_plans.svg")


def _diagram(height: float, xmax: float, ymax: float):
    """An empty, axis-free drawing area 8.4 inches wide, in data units (0..xmax, 0..ymax), for boxes and arrows."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.4, height))
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, ymax)
    ax.axis("off")
    return fig, ax


def setup_routes():
    """Three ways onto a laptop: make, pip without make, and a wheelhouse for a room without internet."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = _diagram(2.2, 10, 3)
    routes = [("make lab", "Linux, macOS\n(make + Python 3.11)"),
              ("python -m venv + pip", "Windows, macOS, Linux\n(no make needed)"),
              ("pip --no-index\n--find-links wheelhouse/...", "a room without internet\n(make wheelhouse beforehand)")]
    for row, (command, who) in enumerate(routes):
        y = 2.5 - row
        ax.text(0.1, y, who, va="center", fontsize=8)
        ax.add_patch(FancyBboxPatch((3.0, y - 0.35), 3.2, 0.7, boxstyle="round,pad=0.02", facecolor="#f2f2f2",
                                    edgecolor="0.5"))
        ax.text(4.6, y, command, ha="center", va="center", fontsize=8, family="DejaVu Sans Mono")
        ax.add_patch(FancyArrowPatch((6.3, y), (7.3, 1.5), arrowstyle="-|>", mutation_scale=10, color="0.4"))
    ax.add_patch(FancyBboxPatch((7.35, 1.1), 2.5, 0.8, boxstyle="round,pad=0.02", facecolor="white", edgecolor="#7570b3",
                                lw=1.6))
    ax.text(8.6, 1.5, ".venv with the exact pins\n-> JupyterLab", ha="center", va="center", fontsize=8)
    _save(fig, "setup_routes.svg")


def provenance():
    """Where a generated clip's questions arise: its training data, the model, the clip, its marks, the viewer."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = _diagram(2.4, 10.3, 3.0)
    steps = [("training data", "whose clips and faces?\non what terms?"),
             ("generator", "can it copy a\ntraining clip?"),
             ("generated clip", "who owns it?\nwho may use it?"),
             ("watermark +\nC2PA manifest", "does the mark\nsurvive edits?"),
             ("viewer", "marked: traced\nunmarked: unknown")]
    width, gap = 1.6, 0.5
    for i, (name, question) in enumerate(steps):
        x = 0.1 + i * (width + gap)
        ax.add_patch(FancyBboxPatch((x, 1.9), width, 0.8, boxstyle="round,pad=0.03", facecolor="#f2f2f2",
                                    edgecolor="#7570b3" if i == 3 else "0.5", lw=1.6 if i == 3 else 1.0))
        ax.text(x + width / 2, 2.3, name, ha="center", va="center", fontsize=9)
        ax.text(x + width / 2, 1.2, question, ha="center", va="center", fontsize=8.5, color="0.25")
        if i:
            ax.add_patch(FancyArrowPatch((x - gap + 0.05, 2.3), (x - 0.05, 2.3), arrowstyle="-|>",
                                         mutation_scale=10, color="0.4"))
    ax.text(5.15, 0.4, "consent and copyright questions sit on the left; provenance answers only what is marked",
            ha="center", va="center", fontsize=8.5, style="italic", color="0.3")
    _save(fig, "provenance.svg")


def main():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "world-models-course", "font.size": 10, "font.family": "DejaVu Sans"})
    workshop_plans()
    setup_routes()
    provenance()
    print(f"wrote {OUT / 'workshop_plans.svg'}, {OUT / 'setup_routes.svg'}, {OUT / 'provenance.svg'}")


if __name__ == "__main__":
    main()
