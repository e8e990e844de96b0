"""The recipe that trains the world model of chapter 5 with the course's training loop.

Data: a pool of simulated sequences is drawn once (positions and pushes, some sequences with random
pushes, the rest moving freely); every step takes a fresh batch of random windows of
`context + rollout_steps` frames from it (worldmodels.training.batch_sampler) and renders them on the
fly (worldmodels.render.render_torch). Each step decodes the reconstruction plus `decoded_steps`
randomly chosen imagined steps: decoding is the costly part, the dynamics still runs all of them.

Optimisation: worldmodels.training.train (AdamW without weight decay, linear warm-up, cosine decay to
zero, gradient clipping), with `TrainingRecipe.optim` as its TrainConfig: one stage.

`presets()` holds the configs `python -m worldmodels.train world_model --config NAME` trains (`chapter5`,
the recorded run; `big`, meant for a GPU; `tiny`, seconds on a CPU) and `train_from_config` trains one:
the model's entry in worldmodels.registry. `bench/world_model.py --save` records the reference run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from .data import CANONICAL, TRAIN_WORLD
from .physics import WorldConfig, apply_push, initial_state, random_actions, simulate, step
from .registry import config_from_dict, merge_config, stretch
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
    (optim,) = stages(recipe)
    history = train(model, lambda m, batch: rollout_loss(m, *batch), next_batch, optim,
                    desc="training the world model", progress=progress, **train_options)
    return model.eval(), history


def stages(recipe: TrainingRecipe) -> tuple[TrainConfig]:
    """The TrainConfigs of the recipe's stages: one, recipe.optim."""
    return (recipe.optim,)


def record_configs(model_config, recipe: TrainingRecipe, world: WorldConfig) -> dict:
    """The three configs of a run as plain JSON-able dicts (see configs_from_record). Any model config
    dataclass: chapter 7's object model records its runs with this too."""
    return {"model_config": dataclasses.asdict(model_config), "recipe": dataclasses.asdict(recipe),
            "world": dataclasses.asdict(world)}


def configs_from_record(record: dict, model_config_class=WorldModelConfig, recipe_class=TrainingRecipe) -> tuple:
    """Rebuild the three configs stored in a run's record, to retrain the same run: (model_config_class
    instance, recipe_class instance, WorldConfig)."""
    world = record["world"]
    world = WorldConfig(**{**world, "speed_ranges": tuple(tuple(r) for r in world["speed_ranges"])})
    return (model_config_class(**record["model_config"]), config_from_dict(recipe_class, record["recipe"]), world)


def presets() -> dict[str, dict]:
    """The world model's configs for worldmodels.train (a run record's keys): name -> {"model_config",
    "recipe", "world"[, "min_balls"]}; the first, `chapter5`, is the recorded reference run."""
    chapter5 = record_configs(WorldModelConfig(), TrainingRecipe(), TRAIN_WORLD)
    big = {  # meant for a GPU: 64x64 frames, 3 to 6 balls in one pool, a wider model, a bigger batch
        "model_config": dataclasses.asdict(WorldModelConfig(size=64, latent=64, enc_hidden=1024, dyn_hidden=512,
                                                            dec_hidden=1024, dec_layers=2)),
        "recipe": merge_config(chapter5["recipe"], {"batch_size": 512, "pool_sequences": 16384,
                                                    "optim": {"steps": 20000, "lr": 2e-3, "warmup_steps": 500}}),
        "world": dataclasses.asdict(WorldConfig(n_balls=6, radius=4.0, size=64, speed_ranges=((2.0, 4.0),), max_speed=6.0)),
        "min_balls": 3,  # the pool mixes 3 .. world.n_balls balls
    }
    tiny = {  # seconds on a CPU: the tests and the appendix's measurements
        "model_config": dataclasses.asdict(WorldModelConfig(latent=16, enc_hidden=64, dyn_hidden=64, dec_hidden=64)),
        "recipe": merge_config(chapter5["recipe"], {"batch_size": 32, "rollout_steps": 6, "decoded_steps": 3,
                                                    "pool_sequences": 256, "pool_frames": 16,
                                                    "optim": {"steps": 40, "warmup_steps": 5, "eval_every": 10}}),
        "world": chapter5["world"],
    }
    return {"chapter5": chapter5, "big": big, "tiny": tiny}


def mixed_ball_pool(world: WorldConfig, recipe: TrainingRecipe, min_balls: int):
    """A pool whose sequences hold min_balls .. world.n_balls balls (equal shares); missing balls sit far
    outside the frame, where they render as nothing and never collide."""
    counts = range(min_balls, world.n_balls + 1)
    share = -(-recipe.pool_sequences // len(counts))
    positions, actions = [], []
    for i, n in enumerate(counts):
        part = dataclasses.replace(recipe, pool_sequences=share,
                                   optim=dataclasses.replace(recipe.optim, seed=recipe.optim.seed * 1000 + i))
        pos, act = simulate_pool(dataclasses.replace(world, n_balls=n), part)
        far = torch.full(pos.shape[:2] + (world.n_balls - n, 2), -1e3)
        positions.append(torch.cat([pos, far], dim=2)), actions.append(act)
    return torch.cat(positions)[: recipe.pool_sequences], torch.cat(actions)[: recipe.pool_sequences]


def train_from_config(config: dict, *, steps: int | None = None, shard=(0, 1), progress: bool = True, **hooks):
    """Train the world model from a config dict (a preset or a run record); `steps` stretches its one stage
    (registry.stretch). The registry's `train` (worldmodels.train's hooks)."""
    model_config, recipe, world = configs_from_record(config)
    if steps is not None:
        (optim,) = stretch(stages(recipe), steps)
        recipe = dataclasses.replace(recipe, optim=optim)
    pool = None
    if config.get("min_balls") is not None:
        if not 1 <= config["min_balls"] <= world.n_balls:
            raise ValueError(f"min_balls must be in 1..world.n_balls ({world.n_balls}), got {config['min_balls']}")
        pool = mixed_ball_pool(world, recipe, config["min_balls"])
    return train_world_model(model_config, recipe, world, progress=progress, shard=shard, pool=pool, **hooks)


# ------------------------------------------------------------------- chapter 8: a fine-tune for planning

# The recorded chapter-5 model saw pushes on a quarter of its frames (half the pool, push probability 0.3)
# and balls that mostly fly freely. A planner asks it something else: dense pushes of up to max_push on
# every frame, and balls brought to rest at a target, often beside a wall or in a corner. The fine-tune
# below continues training the chapter-5 model on a pool that looks like that; chapter 8 plans with both.
PLANNING_OPTIM = TrainConfig(steps=1500, lr=1e-3, warmup_steps=50, min_lr_fraction=0.0, grad_clip=1.0, eval_every=50, seed=1)
PLANNING_RECIPE = TrainingRecipe(optim=PLANNING_OPTIM, batch_size=128, rollout_steps=10, decoded_steps=5,
                                 pool_sequences=6144, pool_frames=24, action_fraction=1.0, push_prob=1.0, push_size=1.0)


def planning_pool(world: WorldConfig, recipe: TrainingRecipe, near: float = 9.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The fine-tune's pool, positions (n, T, 1, 2) and pushes (n, T, 2), in three equal parts:
    - the chapter-5 kind: sparse random pushes (push probability 0.3) or none, so nothing is forgotten;
    - dense random pushes: a push on every frame from a random onset, uniform in the disc of radius
      recipe.push_size (the planner's random candidates);
    - steered: a noisy feedback controller, push = clip(gain (goal - p) - damping v + noise), drives the
      ball to a goal that is in a corner, beside a wall or in the centre (a third each; "beside" means
      within `near` px of a wall), from a random onset on: the planner's good candidates, which end at rest
      where the targets are.
    Half of every part starts within `near` px of a wall. Deterministic for recipe.optim.seed."""
    if world.n_balls != 1:
        raise ValueError(f"the planning pool has one ball, got n_balls={world.n_balls}")
    rng = np.random.default_rng(recipe.optim.seed)
    n, t, size, r, top = recipe.pool_sequences, recipe.pool_frames, world.size, world.radius, recipe.push_size
    p, v = initial_state(world, n, rng)
    walled = rng.random(n) < 0.5  # move these starts next to a wall (one axis) or into a corner (both)
    axes = rng.random((n, 2)) < np.array([[1.0, 0.4]])
    flip = rng.random((n, 2)) < 0.5
    edge = rng.uniform(r, near, size=(n, 2))
    edge = np.where(flip, size - edge, edge)
    p[:, 0] = np.where(walled[:, None] & axes, edge, p[:, 0])
    part = rng.integers(0, 3, size=n)  # 0: chapter-5 kind, 1: dense random, 2: steered
    onset = rng.integers(0, 8, size=n)
    sparse = random_actions(n, t, rng, 0.3, top) * (rng.random(n) < 0.5)[:, None, None]
    angle = rng.uniform(0, 2 * np.pi, size=(n, t))
    norm = top * np.sqrt(rng.random((n, t)))
    dense = np.stack([norm * np.cos(angle), norm * np.sin(angle)], axis=-1)
    region = rng.integers(0, 3, size=n)  # goal: 0 centre, 1 wall, 2 corner
    lo, hi = r + 3.0, size - r - 3.0
    goal = rng.uniform(near, size - near, size=(n, 2))
    side = np.where(rng.random((n, 2)) < 0.5, rng.uniform(lo, near, size=(n, 2)), rng.uniform(size - near, hi, size=(n, 2)))
    which = rng.integers(0, 2, size=n)
    goal[region == 2] = side[region == 2]
    goal[region == 1, which[region == 1]] = side[region == 1, which[region == 1]]
    gain, damping = rng.uniform(0.05, 0.8, size=(n, 1)), rng.uniform(0.0, 1.0, size=(n, 1))
    noise = rng.normal(0.0, 0.3, size=(n, t, 2))
    positions, actions = np.empty((n, t, 1, 2)), np.zeros((n, t, 2))
    for k in range(t):
        positions[:, k] = p
        steer = gain * (goal - p[:, 0]) - damping * v[:, 0] + noise[:, k]
        steer *= np.minimum(1.0, top / np.maximum(np.linalg.norm(steer, axis=-1, keepdims=True), 1e-12))
        push = np.where((part == 0)[:, None], sparse[:, k], np.where((part == 1)[:, None], dense[:, k], steer))
        actions[:, k] = push * (k >= onset)[:, None]
        if k == t - 1:
            break
        v = apply_push(v, actions[:, k], world)
        p, v = step(p, v, world)
    return torch.from_numpy(positions).float(), torch.from_numpy(actions).float()


def finetune_for_planning(model: WorldModel, recipe: TrainingRecipe = PLANNING_RECIPE, world: WorldConfig = CANONICAL,
                          progress: bool = True, **train_options) -> tuple[WorldModel, History]:
    """Continue training `model` (the chapter-5 world model, changed in place) on planning_pool(world,
    recipe) with the course's loop and rollout loss; return it (eval mode) and the loss history.
    Deterministic for a given model, recipe.optim.seed and thread count."""
    if world.size != model.config.size:
        raise ValueError(f"world.size ({world.size}) must equal the model's size ({model.config.size})")
    next_batch = window_batches(world, recipe, model.config.context, pool=planning_pool(world, recipe))
    history = train(model, lambda m, batch: rollout_loss(m, *batch), next_batch, recipe.optim,
                    desc="fine-tuning the world model for planning", progress=progress, **train_options)
    return model.eval(), history
