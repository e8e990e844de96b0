"""The table of chapters: the one place that says what the course holds.

Every list of chapters in the repository is generated from `CHAPTERS` below by tools/front_matter.py
(`make book` runs it): the README's and CONTRIBUTING's chapter tables, the book's table of contents
(book/_toc.yml), the intro's questions, chapter 1's road ahead, the course map and the instructor's guide
(its run times and workshop plans). tests/test_book_pages.py fails when a generated list is stale, when a
notebook has no row, or when a headline number is not printed by the checked cell the row names.

To add a chapter: write `notebooks/NN_name.ipynb` and `solutions/NN_name.ipynb`, add one `Chapter(...)` row
(and a `Part` if it opens a new part), then run `make book`. A book page (book/NAME.md) joins the table of
contents through its part's `before` or `after`.

Fields of a row:
- `label`: "1".."10" for chapters, "A" for the appendix, "" for a companion page (the explorer).
- `notebook`, `exercises`: file names in notebooks/ and in solutions/ (= exercises/), or "" for none.
- `run_s`: seconds the notebook took top to bottom (`jupyter nbconvert --execute`, default threads,
  OpenMP's default wait policy) on the course's 2-core build machine with nothing else running, one
  notebook after another, measured 2026-11-29; chapters 4, 5, 12 re-measured 2026-12-07 the same way; chapters 7,
  8, 9, 11 and 13 re-measured later that day on ONE thread (an upper bound: two threads are faster), chapter 10 and
  the appendix with default threads.
- `nbval_s`: seconds nbval took on the notebook in `make test` (one thread, generic CPU kernels, passive waiting,
  four jobs sharing two cores), measured 2026-12-07 in a fresh clone's run.
- `check_s`: seconds nbval took on the exercises notebook as another machine (one thread, generic CPU
  kernels, passive waiting, as `make test` runs it), measured 2026-12-07; tools/nbval_split.py balances
  `make test`'s three nbval parts with `nbval_s` and `check_s`.
- `budget_s`: what the notebook must stay within on a quiet 2-core laptop.
- `study_min`: minutes a learner needs to read, run and do the exercises (an estimate).
- `headline`, `headline_cells`: the chapter's result in one line, and the ids of the checked cells
  (tags nbval-check-output or nbval-tolerance) whose outputs print each decimal number in it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    caption: str  # the caption in the book's table of contents
    builds: str = ""  # what the part builds (chapter 1's road ahead)
    question: str = ""  # the question the part answers (chapter 1's road ahead)
    before: tuple[str, ...] = ()  # book pages (paths without .md) listed before the part's notebooks
    after: tuple[str, ...] = ()  # and after them


@dataclass(frozen=True)
class Chapter:
    label: str
    title: str
    part: str  # a key of PARTS
    stage: str  # one of STAGES: where the chapter sits on the course map's road
    question: str
    notebook: str
    exercises: str
    run_s: int
    nbval_s: int
    check_s: int | None
    budget_s: int
    study_min: int
    headline: str = ""
    headline_cells: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """'Chapter 5', 'Appendix A', or the companion page's title."""
        if not self.label:
            return self.title
        return f"Appendix {self.label}" if self.label.isalpha() else f"Chapter {self.label}"

    @property
    def numbered_title(self) -> str:
        return f"{self.label}. {self.title}" if self.label else self.title


# The stages of the course map's road, in order, each with its colour (cards, workshop timelines).
STAGES = {"world": "#8c8c8c", "tokens": "#1b9e77", "pixels": "#d95f02", "latents": "#7570b3", "objects": "#e7298a",
          "decisions": "#66a61e", "generation": "#b8860b", "verification": "#a6761d", "embeddings": "#e6ab02", "dreams": "#1b7837",
          "latent actions": "#762a83", "scale": "#1f78b4"}

PARTS = {
    "foundations": Part("Foundations", "the bouncing-ball simulator and its measurements",
                        "What are state, dynamics and observation, and what is our laboratory?"),
    "1": Part("Part 1: next-token prediction",
              "a character-level language model, then the same model on tokenized ball motion",
              'How does "predict the next {term}`token`" work, and how far does it carry physics?'),
    "2": Part("Part 2: next-frame prediction", "a pixel predictor and the evaluation harness",
              "Why do frame predictions blur, and why do errors compound?"),
    "3": Part("Part 3: a world model of bouncing balls",
              "an action-conditioned {term}`latent` world model, then one with a slot per ball",
              "Can a small network learn the simulator from pixels, where does it stop being one, and do "
              "objects help?"),
    "4": Part("Part 4: what world models are for",
              "a planner that decides in imagination, a text-to-video generator and detectors of generated video",
              "What can a world model decide, can a generator obey physics, and can we tell its clips from real "
              "ones?", after=("book/content_and_consent",)),
    "5": Part("Part 5: other roads to a world model",
              "a world model that predicts embeddings, a policy learned in a dream, and actions learned from watching",
              "Must a world model draw pixels, can a behaviour be learned inside one, and can video without action "
              "labels become a world you can play?"),
    "appendix": Part("Appendix", "the same training on one GPU, several GPUs and several machines",
                     "Does the scaled-up training compute the same thing?"),
    "workshops": Part("For workshops", before=("book/course_map", "book/run_it_yourself"),
                      after=("book/instructor_guide", "book/grading")),
    "back matter": Part("Back matter", after=("book/exercises", "book/glossary", "book/bibliography")),
}

CHAPTERS = (
    Chapter("1", "What is a world model?", "foundations", "world",
            "What do \"state\", \"dynamics\" and \"observation\" mean, and what is our laboratory?",
            "01_what_is_a_world_model.ipynb", "01_what_is_a_world_model.ipynb", run_s=9, nbval_s=7, check_s=3,
            budget_s=30, study_min=45,
            headline="a 0.1 px nudge grows to 2.40 px in 20 frames", headline_cells=("529f9269",)),
    Chapter("2", "Predicting the next token", "1", "tokens",
            "How does a language model learn to continue a sequence, and how do we measure it?",
            "02_next_token.ipynb", "02_next_token.ipynb", run_s=28, nbval_s=90, check_s=3, budget_s=90, study_min=75,
            headline="2.00 nats per character held out (bigram 2.36)", headline_cells=("cde26dff",)),
    Chapter("3", "Trajectories as sentences", "1", "tokens",
            "Can the same next-token model predict a bouncing ball, and where do tokens struggle?",
            "03_trajectories_as_sentences.ipynb", "03_trajectories_as_sentences.ipynb", run_s=41, nbval_s=172, check_s=3,
            budget_s=90, study_min=60,
            headline="6.3 px off at k = 20 (constant velocity 19.0)", headline_cells=("da22b59e",)),
    Chapter("4", "Predicting the next frame", "2", "pixels",
            "Why do predicted frames blur, why do errors compound, and how do we measure honestly?",
            "04_next_frame.ipynb", "04_next_frame.ipynb", run_s=37, nbval_s=184, check_s=3, budget_s=120, study_min=75,
            headline="4.40 px off at k = 20 (copying the last frame 12.53)",
            headline_cells=("11b5a0be", "80c7fdf5")),
    Chapter("5", "A world model that learns physics", "3", "latents",
            "Can a small network learn the simulator from pixels, and be steered by actions?",
            "05_learning_physics.ipynb", "05_learning_physics.ipynb", run_s=71, nbval_s=399, check_s=6, budget_s=150,
            study_min=75,
            headline="1.39 px off at k = 20 (4.97 with pushes)", headline_cells=("c5d9bc0d", "9572d212")),
    Chapter("6", "Where the world model breaks", "3", "latents",
            "Did it learn rules or memorize cases? Out-of-distribution and physical-law tests.",
            "06_where_it_breaks.ipynb", "06_where_it_breaks.ipynb", run_s=20, nbval_s=51, check_s=5, budget_s=150,
            study_min=60,
            headline="1.7 to 17.8 times the error out of distribution", headline_cells=("b11cb937",)),
    Chapter("7", "Objects and collisions", "3", "objects",
            "Does a world model with one slot per ball predict collisions, and carry over to more balls?",
            "07_objects_and_collisions.ipynb", "07_objects_and_collisions.ipynb", run_s=72, nbval_s=136, check_s=3,
            budget_s=150, study_min=75,
            headline="2.19 px off at k = 10 on 3 balls (no-collision oracle 5.62)", headline_cells=("881f8234",)),
    Chapter("8", "Deciding in imagination", "4", "decisions",
            "How much is lost by planning in the model instead of the world, and can the model rank plans?",
            "08_deciding_in_imagination.ipynb", "08_deciding_in_imagination.ipynb", run_s=30, nbval_s=52, check_s=3,
            budget_s=150, study_min=75,
            headline="planning in the model succeeds in 0.885 of starts, 0.97 fine-tuned for planning (simulator 0.99)",
            headline_cells=("e82e91c2", "ch8r0002")),
    Chapter("9", "Sora in miniature", "4", "generation",
            "Can a small text-to-video diffusion model follow its prompt and obey the world's laws?",
            "09_sora_in_miniature.ipynb", "09_sora_in_miniature.ipynb", run_s=77, nbval_s=193, check_s=3, budget_s=150,
            study_min=90,
            headline="the prompt's direction followed in 99 % of clips", headline_cells=("c028",)),
    Chapter("10", "Telling generated from real", "4", "verification",
            "Can detectors tell generated clips from real ones, and what can a watermark do that they cannot?",
            "10_telling_generated_from_real.ipynb", "10_telling_generated_from_real.ipynb", run_s=131, nbval_s=294,
            check_s=3, budget_s=150, study_min=75,
            headline="physics detector AUC 1.000; watermark at 41.1 dB found in every marked clip",
            headline_cells=("3f425f52", "e825369f")),
    Chapter("11", "Predicting without pixels", "5", "embeddings",
            "Can a world model that never draws a frame know where the ball is, notice broken physics and plan?",
            "11_predicting_without_pixels.ipynb", "11_predicting_without_pixels.ipynb", run_s=15, nbval_s=47, check_s=3, budget_s=150,
            study_min=60,
            headline="position still readable ten imagined steps ahead (R² 0.922; chapter 5 0.347), broken physics caught (AUC 0.908 to 1.000), plans succeed in 0.925 of episodes (simulator 0.99)",
            headline_cells=("b2fad193", "62ca5dde", "ecf05cc9")),
    Chapter("12", "Learning to act in a dream", "5", "dreams",
            "Can a policy learned only in the world model's imagination act in the real world, and where does the dream lie?",
            "12_learning_in_a_dream.ipynb", "12_learning_in_a_dream.ipynb", run_s=9, nbval_s=20, check_s=3, budget_s=150,
            study_min=80,
            headline="a policy trained only in imagination succeeds in 0.990 of starts (planning in the model 0.885)",
            headline_cells=("9b633241", "bc2b423f")),
    Chapter("13", "Controllable video without action labels", "5", "latent actions",
            "Can a world model learn its own buttons from videos that carry no actions?",
            "13_latent_actions.ipynb", "13_latent_actions.ipynb", run_s=13, nbval_s=14, check_s=3, budget_s=150,
            study_min=60,
            headline="codes learned without labels name the hidden push in 0.930 of held-out steps and move the ball their push's way in 1.000 of presses away from the walls",
            headline_cells=("8fb18e41", "1d66124e")),
    Chapter("A", "Scaling up", "appendix", "scale",
            "How does the same training run on one GPU, several GPUs and several machines, and does it compute "
            "the same thing?",
            "appendix_scaling.ipynb", "A1_scaling_up.ipynb", run_s=50, nbval_s=188, check_s=4, budget_s=150, study_min=60,
            headline="2 processes match 1 within 1e-3; a resumed run differs by 0.0",
            headline_cells=("d3563b3a",)),
    Chapter("", "Explore the world model", "workshops", "latents",
            "Where does the world model's imagination keep up with the ball you push, and where does it drift?",
            "explore_world_model.ipynb", "", run_s=8, nbval_s=9, check_s=None, budget_s=30, study_min=20),
)


def chapters(part: str | None = None, companions: bool = False) -> list[Chapter]:
    """The rows in course order: the chapters and the appendix (and the companion pages if asked)."""
    return [c for c in CHAPTERS if (companions or c.label) and (part is None or c.part == part)]


def duration(seconds: int) -> str:
    """45 -> '45 s', 83 -> '1 min 23 s', 120 -> '2 min'."""
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min" + (f" {seconds % 60:02d} s" if seconds % 60 else "")


def study_time(minutes: int) -> str:
    """45 -> '45 min', 75 -> '1 h 15'."""
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d}"
