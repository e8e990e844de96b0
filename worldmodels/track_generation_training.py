"""The recipe that trains chapter 9's track generator (worldmodels.track_generation) through training.train.

- `batches`: next_batch(generator) for the loop: rows of the training clips' tokens, captions with parts left out
  (multiball.drop_parts), a noise level t and noise, all from the loop's seeded generator.
- `WeightAverage`: an exponential moving average of the weights (the sampler uses the average, which is steadier
  than the last step's weights); the batch function updates it before every step.
- `RecipeConfig` and `train_generator(recipe)` -> (TrackGenerator with the averaged weights, History);
  `presets()` names the recorded runs (`chapter9`, its short prefix `prefix` for the reproduction test, `tiny`).
  `bench/generation.py --save-tracks` records the reference run; `--scale` the scale study.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from . import multiball
from .training import TrainConfig, batch_sampler, train
from .track_generation import LATENTS, TrackGenerator, dit_config, to_tokens, track_loss


@dataclass(frozen=True)
class RecipeConfig:
    n_clips: int = 16000  # clips drawn (the held-out combination is then removed)
    width: int = 96
    depth: int = 3
    heads: int = 4
    frames_per_token: int = 4
    balls_per_token: int = 1  # 1: a token per ball and 4 frames; MAX_BALLS: a token per frame patch holding every ball
    latent: str = "positions"  # or "moves": the first position, then per-frame steps that the decoder sums
    train: TrainConfig = TrainConfig(steps=2000, lr=1e-3, warmup_steps=100, eval_every=100, seed=0)
    batch_size: int = 128
    ema: float = 0.995  # weight of the old average in each update
    step_weight: float = 4.0  # track_loss's weight on first and second differences
    precondition: bool = True  # track_generation.Denoiser's noise-scaled skip connection around the transformer
    guidance: float = 3.0
    sample_steps: int = 24

    def __post_init__(self):
        for name in ("n_clips", "width", "depth", "heads", "frames_per_token", "balls_per_token", "batch_size",
                     "sample_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")
        if self.latent not in LATENTS:
            raise ValueError(f"latent must be one of {LATENTS}, got {self.latent!r}")

    @property
    def layout(self) -> dict:
        return {"frames_per_token": self.frames_per_token, "balls_per_token": self.balls_per_token,
                "latent": self.latent}


class WeightAverage:
    """An exponential moving average of a model's weights: average <- decay * average + (1 - decay) * weights."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.model, self.decay = model, decay
        self.average = copy.deepcopy(model).eval()
        for p in self.average.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self) -> None:
        for a, p in zip(self.average.parameters(), self.model.parameters()):
            a.mul_(self.decay).add_(p.detach(), alpha=1 - self.decay)


def batches(tokens: torch.Tensor, parts: np.ndarray, batch_size: int, average: WeightAverage | None = None):
    """next_batch(generator) -> (x0, words, t, noise); updates `average` (if given) first, so the average follows
    the weights of every step."""
    rows_of = batch_sampler(torch.arange(len(tokens)), batch_size=batch_size)

    def next_batch(generator):
        if average is not None:
            average.update()
        (rows,) = rows_of(generator)
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        words = multiball.tokenize(multiball.drop_parts(parts[rows.numpy()], rng))
        t = torch.rand(batch_size, generator=generator)
        noise = torch.randn((batch_size,) + tuple(tokens.shape[1:]), generator=generator)
        return tokens[rows], words, t, noise

    return next_batch


def train_generator(recipe: RecipeConfig = RecipeConfig(), progress: bool = True, **train_options):
    """Train a TrackGenerator on recipe.n_clips clips. Returns (TrackGenerator with the averaged weights, History)."""
    clips = multiball.make_clips(recipe.n_clips, "train", seed=recipe.train.seed)
    tokens = to_tokens(clips.positions, clips.present, **recipe.layout)
    torch.manual_seed(recipe.train.seed + 1)
    config = dit_config(recipe.width, recipe.depth, recipe.heads, recipe.frames_per_token, recipe.balls_per_token)
    g = TrackGenerator(config, recipe.frames_per_token, recipe.guidance, recipe.sample_steps, recipe.precondition,
                       recipe.balls_per_token, recipe.latent)
    average = WeightAverage(g.dit, recipe.ema) if recipe.ema > 0 else None
    loss = lambda model, batch: track_loss(model, batch, recipe.step_weight, **recipe.layout)  # noqa: E731
    history = train(g.dit, loss, batches(tokens, clips.parts, recipe.batch_size, average), recipe.train,
                    desc="track generator", progress=progress, **train_options)
    if average is not None:
        average.update()
        g.dit.load_state_dict(average.average.state_dict())
    return g.eval(), history


def save_run(g: TrackGenerator, recipe: RecipeConfig, history, path, **facts) -> dict:
    """Write the checkpoint (registry's format, model "track_generator", float32 weights) and its JSON record
    beside it: the recipe, the parameter count, the training seconds, the loss every 50 steps and `facts`."""
    from pathlib import Path

    from .registry import FORMAT, save_record
    from .track_generation import generator_config
    from .training import n_parameters

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().float() for k, v in g.state_dict().items()}
    torch.save({"format": FORMAT, "model": "track_generator", "config": generator_config(g), "state_dict": state}, path)
    record = {"model": "track_generator", "seed": recipe.train.seed, "params": n_parameters(g),
              "recipe": dataclasses.asdict(recipe), "train_seconds": round(history.seconds, 1),
              "loss_every_50": [round(x, 5) for x in history.train_loss[::50]],
              "final_loss": round(float(np.mean(history.train_loss[-50:])), 5), **facts}
    save_record(record, path.with_suffix(".json"))
    return record


def load_run(path=None) -> TrackGenerator:
    """A TrackGenerator from a checkpoint written by save_run (default: the recorded reference run)."""
    from .registry import load

    return load("track_generator", path)


def train_from_config(config: dict, *, steps: int | None = None, shard=(0, 1), progress: bool = True, **hooks):
    """Train from a config dict {"recipe": ...} (a preset or the run's record); `steps` replaces the recipe's steps.
    The registry's `train`; returns (TrackGenerator, History)."""
    recipe = recipe_from_dict(config["recipe"])
    if steps is not None:
        recipe = dataclasses.replace(recipe, train=recipe.train.with_steps(steps))
    return train_generator(recipe, progress, shard=shard, **hooks)


def registry_presets() -> dict[str, dict]:
    """presets() as the registry's config dicts {"recipe": ...}, the recorded run first."""
    return {name: {"recipe": dataclasses.asdict(recipe)} for name, recipe in presets().items()}


def recipe_from_dict(values: dict) -> RecipeConfig:
    """A RecipeConfig from its asdict form (the checkpoint's record)."""
    values = dict(values)
    values["train"] = TrainConfig(**values["train"])
    return RecipeConfig(**values)


def presets() -> dict[str, RecipeConfig]:
    """`chapter9` (the recorded reference run), `prefix` (its first steps on fewer clips: the reproduction test's
    recorded run), `small` (the chapter's live run), `tiny` (seconds: unit tests), and two variants of the reference
    recipe: `per_frame` (one token per frame holding every ball, instead of 4 frames x 1 ball) and `moves` (the
    "moves" latent: a start position and per-frame steps)."""
    chapter9 = RecipeConfig()
    return {
        "chapter9": chapter9,
        "per_frame": dataclasses.replace(chapter9, frames_per_token=1, balls_per_token=multiball.MAX_BALLS),
        "moves": dataclasses.replace(chapter9, latent="moves"),
        "prefix": dataclasses.replace(chapter9, n_clips=2000, train=chapter9.train.with_steps(150)),
        "small": dataclasses.replace(chapter9, n_clips=2000, width=64, depth=2, train=chapter9.train.with_steps(200)),
        "tiny": dataclasses.replace(chapter9, n_clips=64, width=16, depth=1, heads=2, batch_size=8,
                                    train=chapter9.train.with_steps(5), sample_steps=4),
    }
