"""The course at a glance: the course map, the workshop plans and the set-up routes, drawn from one table.

    .venv/bin/python book/course_map.py      # writes book/images/course_map.svg, workshop_plans.svg, setup_routes.svg

`CHAPTERS` below is the single source: each chapter's stage on the road tokens -> pixels -> latents ->
objects -> decisions -> generation -> verification, its headline number (copied from the chapter's
checked outputs, which nbval re-verifies; the notebook and output are named in `source`), its measured
run time in JupyterLab on 2 CPU cores and an estimate of study time. A chapter whose numbers are not in
yet has `None` there: the figure marks it "to be measured". To fill one in, edit its entry and run the
script again (book/course_map.md and book/instructor_guide.md quote the same numbers in their tables).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = Path(__file__).parent / "images"
STAGES = ("world", "tokens", "pixels", "latents", "objects", "decisions", "generation", "verification")

# run_s: seconds the chapter took top to bottom (`jupyter nbconvert --execute`, default threads, OpenMP's
# default wait policy) on the course's 2-core build machine with nothing else running (load average
# 1.1-1.8), one chapter after another, measured 2026-11-29; budget_s: the chapter's budget on a quiet 2-core
# laptop (CONTRIBUTING.md); study_min: minutes a learner needs to read, run and do the exercises (an estimate).
RUN_S = {1: 9, 2: 28, 3: 41, 4: 49, 5: 83, 6: 20, 7: 41, 8: 20, 9: 37, 10: 85}
CHAPTERS = {
    1: dict(stage="world", title="What is a world model?",
            headline="0.1 px nudge: 2.40 px off at 20 frames",
            source="01_what_is_a_world_model, error-growth cell", run_s=RUN_S[1], budget_s=30, study_min=45),
    2: dict(stage="tokens", title="Predicting the next token",
            headline="2.00 nats/char held out (bigram 2.36)",
            source="02_next_token, held-out NLL table", run_s=RUN_S[2], budget_s=90, study_min=75),
    3: dict(stage="tokens", title="Trajectories as sentences",
            headline="6.1 px at k = 20 (constant velocity 19.0)",
            source="03_trajectories_as_sentences, error-vs-horizon table", run_s=RUN_S[3], budget_s=90, study_min=60),
    4: dict(stage="pixels", title="Predicting the next frame",
            headline="4.70 px at k = 20 (copy-last 12.53)",
            source="04_next_frame, rollout-training table", run_s=RUN_S[4], budget_s=120, study_min=75),
    5: dict(stage="latents", title="A world model that learns physics",
            headline="1.39 px at k = 20 (4.93 with pushes)",
            source="05_learning_physics, summary; worldmodels/checkpoints/world_model.json",
            run_s=RUN_S[5], budget_s=150, study_min=75),
    6: dict(stage="latents", title="Where the world model breaks",
            headline="1.7x to 17.8x the error out of distribution",
            source="06_where_it_breaks, errors per split", run_s=RUN_S[6], budget_s=150, study_min=60),
    7: dict(stage="objects", title="Objects and collisions",
            headline="3.76 px at k = 10 on 3 balls (no-collision oracle 5.62)",
            source="07_objects_and_collisions, error-vs-horizon table; worldmodels/checkpoints/object_model.json",
            run_s=RUN_S[7], budget_s=150, study_min=75),
    8: dict(stage="decisions", title="Deciding in imagination",
            headline="planning in the model: 0.885 success (simulator 0.99)",
            source="08_deciding_in_imagination, success table; worldmodels/checkpoints/planning_results.json",
            run_s=RUN_S[8], budget_s=150, study_min=75),
    9: dict(stage="generation", title="Sora in miniature",
            headline="prompt direction followed in 99 % of clips",
            source="09_sora_in_miniature, prompt-adherence table", run_s=RUN_S[9], budget_s=150, study_min=90),
    10: dict(stage="verification", title="Telling generated from real",
             headline="physics detector AUC 1.000; watermark found in 100 % at 41.1 dB",
             source="10_telling_generated_from_real, AUC and watermark cells", run_s=RUN_S[10], budget_s=150,
             study_min=75),
}
PLACEHOLDER = "to be measured"
# The two workshop plans of book/instructor_guide.md: (chapter or break label, minutes).
PLANS = {
    "half day": [(1, 40), ("break", 10), (2, 60), ("break", 15), (5, 60), ("explorer", 25)],
    "full day": [(1, 40), (2, 60), ("break", 15), (3, 45), (4, 60), ("lunch", 60), (5, 60),
                       ("explorer", 20), ("break", 15), (6, 50), ("wrap-up", 15)],
}
COLORS = {"world": "#8c8c8c", "tokens": "#1b9e77", "pixels": "#d95f02", "latents": "#7570b3",
          "objects": "#e7298a", "decisions": "#66a61e", "generation": "#e6ab02", "verification": "#a6761d"}


def _style():
    plt.rcParams.update({"svg.hashsalt": "world-models-course", "font.size": 9, "font.family": "DejaVu Sans"})


def _save(fig, name):
    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / name, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)


def course_map():
    """Stages left to right, chapters as cards under their stage, each with its headline number."""
    fig, ax = plt.subplots(figsize=(8.4, 4.0))
    ax.set_xlim(0, len(STAGES))
    ax.set_ylim(0, 4.0)
    ax.axis("off")
    ax.add_patch(FancyArrowPatch((0.05, 3.5), (len(STAGES) - 0.02, 3.5), arrowstyle="-|>", mutation_scale=12,
                                 color="0.75", lw=1.2))
    for i, stage in enumerate(STAGES):
        ax.text(i + 0.5, 3.75, stage, ha="center", va="center", fontsize=8.5, fontweight="bold", color=COLORS[stage])
    rows: dict[str, int] = {}
    for number, ch in CHAPTERS.items():
        i = STAGES.index(ch["stage"])
        row = rows.get(ch["stage"], 0)
        rows[ch["stage"]] = row + 1
        y = 2.55 - 1.6 * row
        pending = ch["headline"] is None
        ax.add_patch(FancyBboxPatch((i + 0.05, y - 0.72), 0.9, 1.44, boxstyle="round,pad=0.02,rounding_size=0.06",
                                    facecolor="white", edgecolor=COLORS[ch["stage"]], lw=1.6,
                                    linestyle="--" if pending else "-"))
        ax.text(i + 0.5, y + 0.52, f"ch. {number}", ha="center", va="center", fontsize=9, fontweight="bold")
        ax.text(i + 0.5, y + 0.2, _wrap(ch["title"], 13), ha="center", va="center", fontsize=6.3)
        ax.text(i + 0.5, y - 0.38, _wrap(PLACEHOLDER if pending else ch["headline"], 14), ha="center", va="center",
                fontsize=6.3, color="0.45" if pending else COLORS[ch["stage"]], style="italic" if pending else "normal")
    _save(fig, "course_map.svg")


def workshop_plans():
    """The half-day and full-day plans as two timelines (one bar segment per session)."""
    fig, ax = plt.subplots(figsize=(8.4, 1.9))
    for row, (name, plan) in enumerate(PLANS.items()):
        start = 0
        for item, minutes in plan:
            stage = CHAPTERS[item]["stage"] if isinstance(item, int) else None
            color = COLORS[stage] if stage else ("#cfcfcf" if item != "explorer" else "#bcbddc")
            ax.barh(row, minutes, left=start, color=color, edgecolor="white", height=0.6)
            label = f"ch. {item}" if isinstance(item, int) else item
            if minutes >= 20:
                ax.text(start + minutes / 2, row, label, ha="center", va="center", fontsize=7,
                        color="white" if stage else "black")
            start += minutes
    totals = [sum(minutes for _, minutes in plan) for plan in PLANS.values()]
    ax.set_yticks(range(len(PLANS)), [f"{name} ({t // 60} h {t % 60:02d})" for name, t in zip(PLANS, totals)])
    ax.invert_yaxis()
    ax.set_xlabel("minutes from the start")
    ax.spines[["top", "right", "left"]].set_visible(False)
    _save(fig, "workshop_plans.svg")


def setup_routes():
    """Three ways onto a laptop: make, pip without make, and a wheelhouse for a room without internet."""
    fig, ax = plt.subplots(figsize=(8.4, 2.2))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 3)
    ax.axis("off")
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


def _wrap(text: str, width: int) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join(lines + [line])


def _duration(seconds) -> str:
    if seconds is None:
        return "to be measured"
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def _study(minutes) -> str:
    if minutes is None:
        return "to be estimated"
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d}"


def table() -> str:
    """The rows of the run-time tables of book/course_map.md and book/instructor_guide.md."""
    lines = ["| Chapter | Stage | Measured here | Quiet laptop (budget) | Study time |", "| --- | --- | --- | --- | --- |"]
    for number, ch in CHAPTERS.items():
        lines.append(f"| {number}. {ch['title']} | {ch['stage']} | {_duration(ch['run_s'])} | "
                     f"{'≤ ' + _duration(ch['budget_s']) if ch['budget_s'] else 'to be set'} | {_study(ch['study_min'])} |")
    return "\n".join(lines)


def main():
    if sys.argv[1:] == ["--table"]:
        print(table())
        return
    _style()
    course_map()
    workshop_plans()
    setup_routes()
    print(f"wrote {OUT / 'course_map.svg'}, {OUT / 'workshop_plans.svg'}, {OUT / 'setup_routes.svg'}")


if __name__ == "__main__":
    main()
