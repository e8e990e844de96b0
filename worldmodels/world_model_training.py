"""The recipe that trains the world model of chapter 5 with the course's training loop.

Data: a pool of simulated sequences is drawn once (positions and pushes, some sequences with random
pushes, the rest moving freely); every step takes a fresh batch of random windows of
`context + rollout_steps` frames from it (worldmodels.training.batch_sampler) and renders them on the
fly (worldmodels.render.render_torch). Each step decodes the reconstruction plus `decoded_steps`
randomly chosen imagined steps: decoding is the costly part, the dynamics still runs all of them.

Optimisation: worldmodels.training.train (AdamW without weight decay, linear warm-up, cosine decay to
zero, gradient clipping), with `TrainingRecipe.optim` as its TrainConfig.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from .data import TRAIN_WORLD
from .physics import WorldConfig, random_actions, simulate
from .render import render_torch
from .training import History, TrainConfig, batch_sampler, shard_rows, train
from .world_model import WorldModel, WorldModelConfig, rollout_loss

CHAPTER_OPTIM = TrainConfig(steps=1500, lr=3e-3, warmup_steps=100, min_lr_fraction=0.0, grad_clip=1.0, eval_every=50, seed=0)


@dataclass(frozen=True)
class TrainingRecipe:
    """Everything that defines a training run of the world model besides its architecture and world."""

    optim: TrainConfig = CHAPTER_OPTIM  # steps, learning rate and schedule, clipping, seed
    batch_size: int = 128
    rollout_steps: int = 20  # open-loop steps per training window
    decoded_steps: int = 6  # rollout steps decoded per batch (a random subset: decoding is the costly part)
    pool_sequences: int = 4096  # simulated sequences the windows are drawn from
    pool_frames: int = 64
    action_fraction: float = 0.5  # share of the pool with random pushes (push_prob, push_size below)
    push_prob: float = 0.3
    push_size: float = 1.0

    def __post_init__(self):
        for name in ("batch_size", "rollout_steps", "decoded_steps", "pool_sequences", "pool_frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.decoded_steps > self.rollout_steps:
            raise ValueError(f"decoded_steps ({self.decoded_steps}) must be <= rollout_steps ({self.rollout_steps})")
        if not 0 <= self.action_fraction <= 1:
            raise ValueError(f"action_fraction must be in [0, 1], got {self.action_fraction}")

    @classmethod
    def from_dict(cls, values: dict) -> "TrainingRecipe":
        """Inverse of dataclasses.asdict (as stored in a run's JSON record)."""
        return cls(**{**values, "optim": TrainConfig(**values["optim"])})


def simulate_pool(world: WorldConfig, recipe: TrainingRecipe) -> tuple[torch.Tensor, torch.Tensor]:
    """The pool of training sequences: positions (n, T, N, 2) and pushes (n, T, 2), float32 tensors."""
    rng = np.random.default_rng(recipe.optim.seed)
    n, t = recipe.pool_sequences, recipe.pool_frames
    actions = random_actions(n, t, rng, recipe.push_prob, recipe.push_size)
    actions[int(round(recipe.action_fraction * n)) :] = 0.0  # the rest of the pool moves freely
    traj = simulate(world, n, t, rng=rng, actions=actions)
    return torch.from_numpy(traj.positions).float(), torch.from_numpy(traj.actions).float()


def window_batches(world: WorldConfig, recipe: TrainingRecipe, context: int, *, pool: tuple | None = None,
                   shard: tuple[int, int] = (0, 1)):
    """next_batch(generator) -> (frames (B, L, H, W), actions (B, L, 2), decoded steps (decoded_steps,)),
    L = context + rollout_steps: random windows of the pool, rendered on the fly.

    Only the frames the loss reads are rendered (the `context` frames and the decoded steps); the others
    stay zero. `pool` = (positions, actions) replaces simulate_pool(world, recipe). With
    `shard=(rank, world_size)` every process draws the same global batch from its generator (so all ranks
    stay in step) and renders only its own contiguous slice of batch_size // world_size windows: the
    data-parallel split of worldmodels.train. The default (0, 1) is the whole batch."""
    length = context + recipe.rollout_steps
    if length > recipe.pool_frames:
        raise ValueError(f"pool_frames ({recipe.pool_frames}) must be >= context + rollout_steps = {length}")
    rows = shard_rows(recipe.batch_size, shard)
    windows = batch_sampler(*(pool if pool is not None else simulate_pool(world, recipe)),
                            batch_size=recipe.batch_size, window=length)

    def next_batch(generator: torch.Generator):
        positions, actions = windows(generator)
        positions, actions = positions[rows], actions[rows]
        steps = torch.randperm(recipe.rollout_steps, generator=generator)[: recipe.decoded_steps]
        shown = torch.cat([torch.arange(context), context + steps])  # the frames rollout_loss reads
        frames = positions.new_zeros(positions.shape[:2] + (world.size, world.size))
        frames[:, shown] = render_torch(positions[:, shown], world.radius, world.size)
        return frames, actions, steps

    return next_batch


def train_world_model(model_config: WorldModelConfig = WorldModelConfig(), recipe: TrainingRecipe = TrainingRecipe(),
                      world: WorldConfig = TRAIN_WORLD, progress: bool = True, *, shard: tuple[int, int] = (0, 1),
                      pool: tuple | None = None, **train_options) -> tuple[WorldModel, History]:
    """Train a WorldModel from scratch; return it (in eval mode) and its loss history.
    Deterministic for a given recipe.optim.seed and thread count.

    `shard` and `pool` go to window_batches, `train_options` (device, mixed_precision, ddp, resume,
    checkpoint, checkpoint_every) to worldmodels.training.train: worldmodels.train uses them to run the
    same recipe on a GPU or on several processes."""
    if world.size != model_config.size:
        raise ValueError(f"world.size ({world.size}) must equal model_config.size ({model_config.size})")
    torch.manual_seed(recipe.optim.seed)  # the initial weights
    model = WorldModel(model_config)
    next_batch = window_batches(world, recipe, model_config.context, pool=pool, shard=shard)
    history = train(model, lambda m, batch: rollout_loss(m, *batch), next_batch, recipe.optim,
                    desc="training the world model", progress=progress, **train_options)
    return model.eval(), history


def record_configs(model_config, recipe: TrainingRecipe, world: WorldConfig) -> dict:
    """The three configs of a run as plain JSON-able dicts (see configs_from_record). Any model config
    dataclass: chapter 7's object model records its runs with this too."""
    return {"model_config": dataclasses.asdict(model_config), "recipe": dataclasses.asdict(recipe),
            "world": dataclasses.asdict(world)}


def configs_from_record(record: dict, model_config_class=WorldModelConfig) -> tuple:
    """Rebuild the three configs stored in a run's record, to retrain the same run: (model_config_class
    instance, TrainingRecipe, WorldConfig)."""
    world = record["world"]
    world = WorldConfig(**{**world, "speed_ranges": tuple(tuple(r) for r in world["speed_ranges"])})
    return model_config_class(**record["model_config"]), TrainingRecipe.from_dict(record["recipe"]), world
