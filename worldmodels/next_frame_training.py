"""The recipe that trains chapter 4's next-frame predictor (worldmodels.next_frame), and its recorded run.

`fit` trains a ConvPredictor in place with the course's loop (worldmodels.training.train) and the
model's `rollout_loss`, on random windows of `n_input + rollout_steps` frames. The chapter's recipe is
two stages: teacher forcing (`TEACHER_FORCING`), then either more teacher forcing
(`CONTINUE_TEACHER_FORCING`) or 5-step rollouts (`CONTINUE_ROLLOUT`), on `CHAPTER_DATA`.

`presets()` (`chapter4`: teacher forcing then rollouts, the recorded run; `tiny`) and `train_from_config`
are the model's entry in worldmodels.registry (`python -m worldmodels.train next_frame`);
`record_next_frame` records the reference run worldmodels/checkpoints/next_frame.{pt,json}, which chapter
10 loads as one of its generators (chapter 4 trains inline).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch

from .data import CANONICAL, make_split
from .next_frame import ConvPredictor, PredictorConfig, as_predictor, rollout_loss
from .registry import config_from_dict, stretch
from .training import History, TrainConfig, batch_sampler, shard_rows, train
from .validation import check_frames


@dataclass(frozen=True)
class FitConfig:
    """One stage of the recipe: its TrainConfig (steps, learning rate, schedule, seed) and its windows."""

    optim: TrainConfig = TrainConfig(steps=600, lr=2e-3, eval_every=60)
    batch_size: int = 32  # windows per step
    rollout_steps: int = 1  # 1 = teacher forcing, m > 1 = train on m-step rollouts

    def __post_init__(self):
        for name in ("batch_size", "rollout_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def stages(recipe: list[FitConfig]) -> tuple[TrainConfig, ...]:
    """The TrainConfigs of the recipe's stages, one per FitConfig."""
    return tuple(fit_config.optim for fit_config in recipe)


def fit(model: ConvPredictor, frames, config: FitConfig = FitConfig(), val_frames=None, desc: str | None = None,
        progress: bool = True, *, shard: tuple[int, int] = (0, 1), **train_options) -> History:
    """Train ``model`` in place on videos ``frames`` ``(B, T, H, W)``; return the loss history.

    AdamW with cosine decay (:func:`worldmodels.training.train`), a progress bar. With
    ``val_frames`` the same loss is measured on a fixed batch of held-out windows. ``shard`` and
    ``train_options`` are worldmodels.train's hooks (this rank's rows of each batch; device, ddp, resume, ...).
    """
    length = model.config.n_input + config.rollout_steps
    frames = check_frames(frames, size=model.config.size, ndim=4, min_frames=length, dtype=np.float32, tensor=True)
    rows = shard_rows(config.batch_size, shard)
    windows = batch_sampler(frames, batch_size=config.batch_size, window=length)
    next_batch = lambda generator: tuple(t[rows] for t in windows(generator))  # noqa: E731
    val_batch = None
    if val_frames is not None:
        val_frames = check_frames(val_frames, size=model.config.size, ndim=4, min_frames=length, name="val_frames",
                                  dtype=np.float32, tensor=True)
        draw = batch_sampler(val_frames, batch_size=256, window=length)
        val_batch = draw(torch.Generator().manual_seed(config.optim.seed + 1))
    if desc is None:
        desc = "teacher forcing" if config.rollout_steps == 1 else f"{config.rollout_steps}-step rollouts"
    loss_fn = lambda m, batch: rollout_loss(m, *batch)  # batches are 1-tuples (window,)
    return train(model, loss_fn, next_batch, config.optim, val_batch=val_batch, desc=desc, progress=progress,
                 **train_options)




# The chapter's recipe (notebooks/04_next_frame.ipynb and bench/next_frame.py use these): train with
# teacher forcing, then continue either with teacher forcing or with 5-step rollouts. The two
# continuations predict the same number of frames per step (32 windows x 5 steps = 160 windows x 1).
CHAPTER_MODEL = PredictorConfig()
CHAPTER_DATA = {"train_sequences": 1000, "test_sequences": 500, "n_frames": 30, "seed": 0}
TEACHER_FORCING = FitConfig(TrainConfig(steps=1200, lr=2e-3, eval_every=120), batch_size=32)
CONTINUE_TEACHER_FORCING = FitConfig(TrainConfig(steps=200, lr=1e-3, eval_every=20), batch_size=160)
CONTINUE_ROLLOUT = FitConfig(TrainConfig(steps=200, lr=1e-3, eval_every=20), batch_size=32, rollout_steps=5)


# ------------------------------------------------------------------------------ the registry's entry


def presets() -> dict[str, dict]:
    """Configs for worldmodels.train: name -> {"model_config", "data", "recipe": [stage, ...]} (each stage a
    FitConfig as a dict); the first, `chapter4`, is the recorded run (teacher forcing, then rollouts)."""
    chapter4 = {"model_config": dataclasses.asdict(CHAPTER_MODEL), "data": dict(CHAPTER_DATA),
                "recipe": [dataclasses.asdict(TEACHER_FORCING), dataclasses.asdict(CONTINUE_ROLLOUT)]}
    tiny = {"model_config": dataclasses.asdict(PredictorConfig(channels=8, n_layers=2)),  # seconds on a CPU
            "data": {**CHAPTER_DATA, "train_sequences": 32, "test_sequences": 32},
            "recipe": [dataclasses.asdict(FitConfig(TrainConfig(steps=6, lr=2e-3, eval_every=1), batch_size=8)),
                       dataclasses.asdict(FitConfig(TrainConfig(steps=4, lr=2e-3, eval_every=1), batch_size=8,
                                                    rollout_steps=3))]}
    return {"chapter4": chapter4, "tiny": tiny}


def train_from_config(config: dict, *, steps: int | None = None, shard=(0, 1), progress: bool = True, **hooks):
    """Train a next-frame predictor from a config dict (a preset or a run record): its stages in turn on the
    config's training split. `steps` counts all stages (registry.stretch); checkpoints, resume and the
    History count the last stage (a resumed run skips the others: the checkpoint holds the whole model)."""
    recipe = [config_from_dict(FitConfig, stage, "a recipe stage") for stage in config["recipe"]]
    if steps is not None:
        recipe = [dataclasses.replace(s, optim=optim) for s, optim in zip(recipe, stretch(stages(recipe), steps))]
    d = config["data"]
    frames = make_split("train", d["train_sequences"], d["n_frames"], CANONICAL, seed=d["seed"]).frames
    torch.manual_seed(recipe[0].optim.seed)  # the initial weights
    model = ConvPredictor(PredictorConfig(**config["model_config"]))
    resume = hooks.pop("resume", None)
    last_hooks = {k: hooks.pop(k) for k in ("checkpoint", "checkpoint_every") if k in hooks}
    seconds = 0.0
    for stage in recipe[:-1] if resume is None else []:
        seconds = fit(model, frames, stage, progress=progress, shard=shard, elapsed=seconds, **hooks).seconds
    history = fit(model, frames, recipe[-1], progress=progress, shard=shard, resume=resume, elapsed=seconds,
                  **last_hooks, **hooks)
    return model.eval(), history


def record_next_frame(path=None, progress: bool = True):
    """Train chapter 4's predictor with the chapter's recipe and data and save it with a JSON record
    (registry.save; by default as the reference run).

    Same seed, data and steps as notebooks/04_next_frame.ipynb and bench/next_frame.py (teacher forcing,
    then 5-step rollouts). The record's metrics are measured on the stored (float16) weights.
    Returns (model, record).
    """
    from . import registry
    from .repro import seed_everything
    from .training import n_parameters

    path = registry.get("next_frame").reference if path is None else path
    seed_everything(0)
    config = presets()["chapter4"]
    d = config["data"]
    train_split = make_split("train", d["train_sequences"], d["n_frames"], CANONICAL, seed=d["seed"])
    model = ConvPredictor(CHAPTER_MODEL)
    start = time.perf_counter()
    fit(model, train_split.frames, TEACHER_FORCING, progress=progress)
    fit(model, train_split.frames, CONTINUE_ROLLOUT, progress=progress)
    seconds = time.perf_counter() - start
    registry.save("next_frame", model, path)
    model = registry.load("next_frame", path)
    metrics = {"train_seconds": round(seconds, 1), "model_error_px": next_frame_metrics(model)}
    record = registry.run_record("next_frame", config, seed=0, params=n_parameters(model), metrics=metrics)
    registry.save("next_frame", model, path, record=record)
    return model, record


def next_frame_metrics(model) -> dict[str, float]:
    """Centroid error (px) of chapter 4's predictor at k = 1, 5, 10, 20 on the chapter's test sequences."""
    from .evaluation import evaluate

    d = CHAPTER_DATA
    test = make_split("test", d["test_sequences"], d["n_frames"], CANONICAL, seed=d["seed"])
    report = evaluate({"model": as_predictor(model)}, test, 10, 20, baselines=False)["model"]
    return {str(k): round(float(report.at(k)["error_px"]), 4) for k in (1, 5, 10, 20)}
