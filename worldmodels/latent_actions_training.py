"""The videos with hidden pushes, the recipe that trains the latent action model, and how its codes are read.

Data: the course's simulator (worldmodels.physics) with an unseen agent. At every frame the agent gives
ball 0 one of four pushes (→ ← ↓ ↑, `push_size` px/frame each, probabilities `push_probs`) or none. The
model trains on the frames alone; the push labels are kept aside, for measuring only.

Optimisation: worldmodels.training.train on windows of `past + rollout_steps` frames drawn from a pool
of simulated sequences and rendered on the fly, with `LatentActionRecipe.optim` as its one stage.

Reading the codes (labels enter here, after training): `code_confusion` counts which code the model
infers for each true push on held-out clips; `best_mapping` finds the one-to-one pairing of codes with
pushes that agrees most often (trying every assignment: a handful of codes is few enough);
`attach_mapping` stores it in the model (its `push_codes`, used by as_predictor); `controllability`
checks that pressing a code moves the imagined ball in the direction of its push, by default from the starts
where no wall turns a push round (`clear_starts`, asked of the simulator).

`presets()` holds the configs `python -m worldmodels.train latent_actions --config NAME` trains
(`chapter13`, the recorded run; `tiny`, seconds on a CPU) and `train_from_config` trains one: the model's
entry in worldmodels.registry. `bench/latent_actions.py --save` records the reference run.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np
import torch

from .centroid import centroids
from .data import CANONICAL, BallVideos
from .physics import WorldConfig, check_count, simulate
from .registry import merge_config, stretch
from .render import render, render_torch
from .training import History, TrainConfig, batch_sampler, shard_rows, train
from . import world_model_training
from .latent_actions import PUSH_DIRECTIONS, LatentActionConfig, LatentActionModel, latent_action_loss, push_classes

CHAPTER_OPTIM = TrainConfig(steps=1000, lr=2e-3, warmup_steps=50, min_lr_fraction=0.0, grad_clip=1.0, eval_every=50, seed=0)
_STREAMS = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class LatentActionRecipe:
    """Everything that defines a training run besides the architecture and the world."""

    optim: TrainConfig = CHAPTER_OPTIM
    batch_size: int = 32
    rollout_steps: int = 1  # open-loop steps per training window (the dynamics feeds back its own frames)
    pool_sequences: int = 2048
    pool_frames: int = 24
    push_probs: tuple[float, ...] = (0.1, 0.1, 0.1, 0.1)  # per frame: →, ←, ↓, ↑ (the rest: no push)
    push_size: float = 1.0  # px/frame

    def __post_init__(self):
        for name in ("batch_size", "rollout_steps", "pool_sequences", "pool_frames"):
            check_count(name, getattr(self, name))
        check_push_probs(self.push_probs)
        if not (isinstance(self.push_size, (int, float)) and np.isfinite(self.push_size) and self.push_size >= 0):
            raise ValueError(f"push_size must be a finite number >= 0 (px/frame), got {self.push_size!r}")


def check_push_probs(push_probs) -> tuple[float, ...]:
    """The four push probabilities as a tuple; ValueError unless they are probabilities summing to <= 1."""
    probs = tuple(float(p) for p in push_probs)
    if len(probs) != len(PUSH_DIRECTIONS) - 1 or min(probs) < 0 or sum(probs) > 1:
        raise ValueError(f"push_probs must be {len(PUSH_DIRECTIONS) - 1} probabilities (→, ←, ↓, ↑) summing to <= 1, "
                         f"got {push_probs!r}")
    return probs


# ------------------------------------------------------------------------------------------------ the data


def hidden_pushes(batch: int, n_frames: int, rng: np.random.Generator, push_probs=(0.1, 0.1, 0.1, 0.1),
                  push_size: float = 1.0) -> np.ndarray:
    """The unseen agent's pushes (B, T, 2): at each frame one of → ← ↓ ↑ (push_size px/frame) with the
    probabilities push_probs, otherwise none."""
    batch, n_frames = check_count("batch", batch), check_count("n_frames", n_frames)
    probs = check_push_probs(push_probs)
    classes = rng.choice(len(PUSH_DIRECTIONS), size=(batch, n_frames), p=(1 - sum(probs),) + probs)
    return push_size * PUSH_DIRECTIONS[classes]


def hidden_push_videos(split: str = "test", n_sequences: int = 256, n_frames: int = 30, world: WorldConfig = CANONICAL,
                       push_probs=(0.1, 0.1, 0.1, 0.1), push_size: float = 1.0, seed: int = 0) -> BallVideos:
    """Held-out clips of the pushed ball (train / val / test draw from separate seeded streams). The
    videos' `actions` hold the pushes: the labels the model never trains on; push_classes(actions) names them."""
    if split not in _STREAMS:
        raise ValueError(f"unknown split {split!r}; choose one of {list(_STREAMS)}")
    state_seq, push_seq = np.random.SeedSequence([int(seed), 1300 + _STREAMS[split]]).spawn(2)
    actions = hidden_pushes(n_sequences, n_frames, np.random.default_rng(push_seq), push_probs, push_size)
    traj = simulate(world, n_sequences, n_frames, rng=np.random.default_rng(state_seq), actions=actions)
    return BallVideos(render(traj.positions, world.radius, world.size), traj.positions, traj.velocities,
                      traj.actions, world)


def simulate_pool(world: WorldConfig, recipe: LatentActionRecipe) -> torch.Tensor:
    """The training pool: positions (n, T, N, 2) of pushed balls, float32. The pushes are dropped."""
    rng = np.random.default_rng(recipe.optim.seed)
    n, t = recipe.pool_sequences, recipe.pool_frames
    actions = hidden_pushes(n, t, rng, recipe.push_probs, recipe.push_size)
    return torch.from_numpy(simulate(world, n, t, rng=rng, actions=actions).positions).float()


def window_batches(world: WorldConfig, recipe: LatentActionRecipe, past: int, *, shard=(0, 1)):
    """next_batch(generator) -> (frames (B, past + rollout_steps, H, W),): random windows of the pool
    rendered on the fly, frames only."""
    length = past + recipe.rollout_steps
    if length > recipe.pool_frames:
        raise ValueError(f"pool_frames ({recipe.pool_frames}) must be >= past + rollout_steps = {length}")
    rows = shard_rows(recipe.batch_size, shard)
    windows = batch_sampler(simulate_pool(world, recipe), batch_size=recipe.batch_size, window=length)

    def next_batch(generator: torch.Generator):
        (positions,) = windows(generator)
        return (render_torch(positions[rows], world.radius, world.size),)

    return next_batch


# ---------------------------------------------------------------------------------------------- training


def stages(recipe: LatentActionRecipe) -> tuple[TrainConfig]:
    """The TrainConfigs of the recipe's stages: one, recipe.optim."""
    return (recipe.optim,)


def train_latent_actions(model_config: LatentActionConfig = LatentActionConfig(),
                         recipe: LatentActionRecipe = LatentActionRecipe(), world: WorldConfig = CANONICAL,
                         progress: bool = True, *, shard=(0, 1), **train_options) -> tuple[LatentActionModel, History]:
    """Train a LatentActionModel from scratch on frames alone; return it (eval mode) and its loss history."""
    if world.size != model_config.size:
        raise ValueError(f"world.size ({world.size}) must equal model_config.size ({model_config.size})")
    torch.manual_seed(recipe.optim.seed)
    model = LatentActionModel(model_config)
    next_batch = window_batches(world, recipe, model_config.past, shard=shard)
    (optim,) = stages(recipe)
    history = train(model, lambda m, batch: latent_action_loss(m, *batch), next_batch, optim,
                    desc="training the latent action model", progress=progress, **train_options)
    return model.eval(), history


def configs_from_record(record: dict) -> tuple:
    """(LatentActionConfig, LatentActionRecipe, WorldConfig) of a preset or run record."""
    model_config, recipe, world = world_model_training.configs_from_record(record, LatentActionConfig, LatentActionRecipe)
    return model_config, dataclasses.replace(recipe, push_probs=tuple(recipe.push_probs)), world


def presets() -> dict[str, dict]:
    """name -> {"model_config", "recipe", "world"}; the first, `chapter13`, is the recorded reference run."""
    chapter13 = world_model_training.record_configs(LatentActionConfig(), LatentActionRecipe(), CANONICAL)
    tiny = {
        "model_config": dataclasses.asdict(LatentActionConfig(channels=16, layers=2, action_hidden=16)),
        "recipe": merge_config(chapter13["recipe"], {"batch_size": 16, "rollout_steps": 2,
                                                     "pool_sequences": 64, "pool_frames": 12,
                                                     "optim": {"steps": 20, "warmup_steps": 2, "eval_every": 10}}),
        "world": chapter13["world"],
    }
    return {"chapter13": chapter13, "tiny": tiny}


def train_from_config(config: dict, *, steps: int | None = None, shard=(0, 1), progress: bool = True, **hooks):
    """Train from a config dict (a preset or a run record); `steps` stretches its one stage. The registry's `train`."""
    model_config, recipe, world = configs_from_record(config)
    if steps is not None:
        (optim,) = stretch(stages(recipe), steps)
        recipe = dataclasses.replace(recipe, optim=optim)
    return train_latent_actions(model_config, recipe, world, progress=progress, shard=shard, **hooks)


# --------------------------------------------------------------------------------- what the codes mean


def transition_labels(videos: BallVideos, past: int = 2) -> np.ndarray:
    """The hidden push class of every step a model with `past` frames labels, (B, T - past): the pushes of
    frames past-1 .. T-2 (the push of frame t moves the ball from frame t to t+1)."""
    check_count("past", past)
    return push_classes(videos.actions[:, past - 1 : -1])


def wall_bounces(videos: BallVideos, past: int = 2) -> np.ndarray:
    """(B, T - past) True where ball 0 meets a wall between frame t and t+1 (t = past-1 .. T-2, the steps
    transition_labels names): a velocity component flips sign although the push alone would not flip it."""
    check_count("past", past)
    pushed = videos.velocities[:, :-1, 0] + videos.actions[:, :-1]
    flipped = (np.sign(videos.velocities[:, 1:, 0]) * np.sign(pushed) < 0).any(-1)
    return flipped[:, past - 1 :]


def code_confusion(codes, labels, n_codes: int, n_classes: int = len(PUSH_DIRECTIONS)) -> np.ndarray:
    """Counts (n_codes, n_classes): how often code i was inferred for a step whose hidden push is class j."""
    codes, labels = np.asarray(codes).ravel(), np.asarray(labels).ravel()
    if codes.shape != labels.shape:
        raise ValueError(f"codes and labels must have the same size, got {codes.size} and {labels.size}")
    if codes.size and (codes.min() < 0 or codes.max() >= n_codes or labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"codes must be in 0..{n_codes - 1} and labels in 0..{n_classes - 1}")
    out = np.zeros((n_codes, n_classes), dtype=np.int64)
    np.add.at(out, (codes, labels), 1)
    return out


def best_mapping(confusion) -> dict[int, int]:
    """The one-to-one pairing {class: code} with the most agreeing steps, found by trying every assignment
    (what the Hungarian algorithm finds faster). With fewer codes than classes, some classes get none."""
    m = np.asarray(confusion)
    if m.ndim != 2 or m.size == 0 or (m < 0).any():
        raise ValueError(f"confusion must be a non-empty (codes, classes) array of counts, got shape {m.shape}")
    n_codes, n_classes = m.shape
    best, best_score = None, -1
    if n_codes >= n_classes:
        for codes in itertools.permutations(range(n_codes), n_classes):
            score = m[list(codes), range(n_classes)].sum()
            if score > best_score:
                best, best_score = dict(zip(range(n_classes), codes)), score
    else:
        for classes in itertools.permutations(range(n_classes), n_codes):
            score = m[range(n_codes), list(classes)].sum()
            if score > best_score:
                best, best_score = {j: i for i, j in enumerate(classes)}, score
    return {int(k): int(v) for k, v in sorted(best.items())}


def mapped_agreement(confusion, mapping: dict[int, int]) -> tuple[int, int]:
    """(steps whose code is the one the mapping pairs with their push, all steps)."""
    m = np.asarray(confusion)
    return int(sum(m[code, cls] for cls, code in mapping.items())), int(m.sum())


@torch.no_grad()
def read_codes(model: LatentActionModel, videos: BallVideos, batch: int = 256) -> np.ndarray:
    """The codes the model infers for every step of the videos, (B, T - past), aligned with transition_labels."""
    frames = torch.as_tensor(videos.frames)
    return torch.cat([model.infer_codes(frames[i : i + batch]) for i in range(0, len(frames), batch)]).numpy()


def attach_mapping(model: LatentActionModel, videos: BallVideos) -> dict:
    """Read the codes of labelled held-out clips, pair codes with pushes (best_mapping) and store the pairing
    in model.push_codes (a class with no code of its own gets the code most often inferred for it).
    Returns {"confusion", "mapping"}."""
    confusion = code_confusion(read_codes(model, videos), transition_labels(videos, model.config.past), model.config.codes)
    mapping = best_mapping(confusion)
    table = [mapping.get(j, int(confusion[:, j].argmax())) for j in range(len(PUSH_DIRECTIONS))]
    model.push_codes.copy_(torch.tensor(table))
    return {"confusion": confusion, "mapping": mapping}


def agrees_in_direction(shifts, directions, max_angle_deg: float = 45.0) -> np.ndarray:
    """(n,) True where a shift (n, 2) points within max_angle_deg of its direction (n, 2) (a zero shift never agrees)."""
    shifts, directions = np.asarray(shifts, dtype=np.float64), np.asarray(directions, dtype=np.float64)
    if shifts.ndim != 2 or shifts.shape[1] != 2 or directions.shape != shifts.shape:
        raise ValueError(f"shifts and directions must both have shape (n, 2), got {shifts.shape} and {directions.shape}")
    if not 0 <= max_angle_deg < 180:
        raise ValueError(f"max_angle_deg must be in [0, 180), got {max_angle_deg}")
    dot = (shifts * directions).sum(-1)
    norms = np.linalg.norm(shifts, axis=-1) * np.linalg.norm(directions, axis=-1)
    return (norms > 0) & (dot > np.cos(np.radians(max_angle_deg)) * norms)


def clear_starts(videos: BallVideos, start: int, steps: int) -> np.ndarray:
    """(B,) True where ball 0, from its state at frame `start`, meets no wall within `steps` frames whichever
    single push (or none) it gets first (asked of the simulator): there a push's effect is not turned around
    by a wall, so the direction of the shift it causes is the push's own."""
    check_count("steps", steps)
    p, v = videos.positions[:, start], videos.velocities[:, start]
    clear = np.ones(len(videos), dtype=bool)
    for push in PUSH_DIRECTIONS:
        actions = np.zeros((len(videos), steps + 1, 2))
        actions[:, 0] = push
        run = simulate(videos.world, len(videos), steps + 1, init=(p, v), actions=actions)
        velocity = run.velocities[:, :, 0]
        pushed = velocity[:, :-1] + run.actions[:, :-1]
        clear &= ~(np.sign(velocity[:, 1:]) * np.sign(pushed) < 0).any(axis=(1, 2))
    return clear


@torch.no_grad()
def controllability(model: LatentActionModel, videos: BallVideos, steps: int = 3, away_from_walls: bool = True) -> dict:
    """Press each pushing code once from held-out starts, then the no-push code, and compare the imagined
    ball with `steps` no-push presses: the shift (centroid, px) must point within 45 degrees of the code's
    mapped push. With away_from_walls, only the starts where no wall turns a push around within the steps
    count (clear_starts: at a wall the real ball's shift points the other way too). Returns {"per_push":
    {class: fraction}, "agree": agreeing (start, code) pairs, "n": all pairs, "starts": starts used}."""
    check_count("steps", steps)
    c = model.config.past
    if videos.frames.shape[1] < c:
        raise ValueError(f"videos need at least past = {c} frames, got {videos.frames.shape[1]}")
    if int(model.push_codes.min()) < 0:
        raise ValueError("attach_mapping first: the model's push_codes are not measured yet")
    keep = clear_starts(videos, c - 1, steps) if away_from_walls else np.ones(len(videos), dtype=bool)
    context = torch.as_tensor(videos.frames[keep, :c])
    b, none = len(context), int(model.push_codes[0])
    if b == 0:
        raise ValueError("no start of these videos is clear of the walls; use more videos or away_from_walls=False")

    def end_position(first_code: int) -> np.ndarray:
        codes = torch.full((b, steps), none, dtype=torch.long)
        codes[:, 0] = first_code
        return centroids(model.play(context, codes)[:, -1].numpy(), n_balls=1)[:, 0]

    still = end_position(none)
    per_push, agree, n = {}, 0, 0
    for cls in range(1, len(PUSH_DIRECTIONS)):
        shift = end_position(int(model.push_codes[cls])) - still
        ok = agrees_in_direction(shift, np.broadcast_to(PUSH_DIRECTIONS[cls], shift.shape))
        per_push[cls] = float(ok.mean())
        agree, n = agree + int(ok.sum()), n + b
    return {"per_push": per_push, "agree": agree, "n": n, "starts": b}
