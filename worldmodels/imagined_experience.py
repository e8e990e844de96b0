"""Two more uses of a world model's imagination besides planning (chapter 8, sections 8.6 and 8.7).

- Testing decisions without experiments: `policy_return` runs a feedback controller (`FeedbackPolicy`)
  either in the true world or entirely in imagination, so candidate controllers (`CANDIDATE_POLICIES`)
  can be ranked without touching the world.
- Synthetic data: `future_dataset` labels real starts with real or imagined futures, and a downstream
  model (`knn_predict`, nearest neighbours) learns from them where the ball will be;
  `synthetic_data_experiment` compares real, imagined and mixed training data.

The task (`ReachTask`, `Starts`) and the planner's read-out threshold come from worldmodels.planning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .centroid import centroids
from .data import CANONICAL
from .physics import WorldConfig, apply_push, check_count, simulate, step
from .planning import READOUT_THRESHOLD, ReachTask, Starts, clip_pushes
from .render import render
from .validation import check_frames, check_horizon, check_points
from .world_model import WorldModel

# ------------------------------------------------------------------------------------ ranking decisions


@dataclass(frozen=True)
class FeedbackPolicy:
    """A candidate decision rule: push = clip(gain * (target - p) - damping * v), where p and v are read
    from the last two frames by centroid (so the same rule runs on true or on imagined frames)."""

    gain: float
    damping: float = 0.0

    def __call__(self, p, v, targets, max_push: float) -> np.ndarray:
        return clip_pushes(self.gain * (targets - p) - self.damping * v, max_push)


# the candidate decision rules ranked in chapter 8: from "never push" to stiff, damped controllers
CANDIDATE_POLICIES = tuple(FeedbackPolicy(g, d) for d in (0.0, 0.5) for g in (0.0, 0.05, 0.1, 0.2, 0.4, 0.8)
                           if not (g == 0.0 and d > 0))


def policy_return(policy: FeedbackPolicy, task: ReachTask, starts: Starts, model: WorldModel | None = None):
    """Run `policy` closed loop for the task's steps from every start and return (returns (B,), final
    frames seen): the return is -(distance to target at the goal frame + energy_weight * energy).
    model=None: in the true world. A WorldModel: entirely in imagination, the policy reading decoded frames."""
    obs, world = starts.observation, task.world
    targets = check_points(starts.targets, world.size, name="starts.targets")  # finite, inside the box, at least one
    check_frames(obs.frames, size=world.size, ndim=4, min_frames=2, name="starts.observation.frames", layout="(B, C, H, W)")
    prev, cur = centroids(obs.frames[:, -2])[:, 0], centroids(obs.frames[:, -1])[:, 0]
    energy = np.zeros(len(starts))
    if model is None:
        p, v = obs.positions.copy(), obs.velocities.copy()
    else:
        with torch.no_grad():
            z = model.encode(torch.as_tensor(obs.frames, dtype=torch.float32))
    for _ in range(task.steps):
        push = policy(cur, cur - prev, targets, task.max_push)
        energy += np.square(push).sum(axis=-1)
        if model is None:
            v = apply_push(v, push, world)
            p, v = step(p, v, world)
            frame = render(p, world.radius, world.size)
        else:
            with torch.no_grad():
                z = model.step(z, torch.as_tensor(push, dtype=torch.float32))
                frame = model.decode(z).numpy()
        prev, cur = cur, centroids(frame)[:, 0]
    final = p[:, 0] if model is None else cur  # the truth, or what the model imagines
    return -(np.linalg.norm(final - targets, axis=-1) + task.energy_weight * energy)


# ------------------------------------------------------------------------------------------ synthetic data


def future_dataset(frames, horizon: int, model: WorldModel | None = None, positions=None):
    """Inputs and labels for a downstream model that predicts where the ball is `horizon` frames ahead.

    frames (B, T, H, W) with T >= 2: the inputs are (x, y, horizon * vx, horizon * vy) in px, read by
    centroid from the last two frames (position, and how far the ball would fly without walls). The label
    (x, y) at frame T - 1 + horizon comes from the true `positions` (B, horizon, 2) of the following frames
    (real data), or, when `model` is given, from the centroid of the last frame the world model imagines
    without pushes (synthetic data: only the real start frames are needed). Returns (B, 4) and (B, 2)."""
    frames = check_frames(frames, ndim=4, min_frames=2)
    horizon = check_horizon(horizon)
    if (model is None) == (positions is None):
        raise ValueError("give exactly one of model (imagined labels) and positions (real labels)")
    last, before = centroids(frames[:, -1])[:, 0], centroids(frames[:, -2])[:, 0]
    inputs = np.concatenate([last, horizon * (last - before)], axis=1)
    if model is None:
        positions = np.asarray(positions)
        if positions.shape != (frames.shape[0], horizon, 2):
            raise ValueError(f"positions must have shape {(frames.shape[0], horizon, 2)}, got {positions.shape}")
        return inputs, positions[:, -1].astype(np.float64)
    with torch.no_grad():
        z = model.encode(torch.as_tensor(frames, dtype=torch.float32))
        z = model.imagine(z, torch.zeros(frames.shape[0], horizon, 2))[:, -1]
        imagined = model.decode(z).numpy()
    return inputs, centroids(imagined, threshold=READOUT_THRESHOLD)[:, 0]


def knn_predict(train_inputs, train_labels, inputs, k: int = 5) -> np.ndarray:
    """The downstream model: k-nearest-neighbour regression, the mean label of the k closest training
    inputs (Euclidean). It has no parameters to fit, so its error shows the quality and the amount of
    its training data and nothing else."""
    train_inputs, train_labels, inputs = (np.asarray(a, dtype=np.float64) for a in (train_inputs, train_labels, inputs))
    k = check_count("k", k)
    if train_inputs.ndim != 2 or inputs.ndim != 2 or train_inputs.shape[1] != inputs.shape[1] or len(train_labels) != len(train_inputs):
        raise ValueError(f"need train_inputs (M, D), train_labels (M, ...), inputs (N, D); got {train_inputs.shape}, "
                         f"{train_labels.shape}, {inputs.shape}")
    k = min(k, len(train_inputs))
    d2 = (np.square(inputs).sum(1)[:, None] - 2 * inputs @ train_inputs.T + np.square(train_inputs).sum(1)[None])
    nearest = np.argpartition(d2, k - 1, axis=1)[:, :k]
    return train_labels[nearest].mean(axis=1)


def synthetic_data_experiment(model: WorldModel, real_amounts=(16, 64, 256, 1024, 4096, 16384), n_imagined: int = 4096,
                              n_test: int = 1000, horizon: int = 10, k: int = 5, world: WorldConfig = CANONICAL,
                              seed: int = 0) -> list[dict]:
    """The downstream model (knn_predict) with training data from (a) n real sequences, (b) n_imagined real
    starts labelled by the world model, (c) both, for every n in real_amounts; all tested on the same real
    test sequences. Returns one row per n: {"real": n, "real only": px, "imagined only": px,
    "real + imagined": px}, the mean distance between predicted and true position."""
    horizon = check_horizon(horizon)
    context = model.config.context

    def real(n, stream):
        traj = simulate(world, n, context + horizon, seed=np.random.SeedSequence([seed, stream]))
        frames = render(traj.positions[:, :context], world.radius, world.size)
        return frames, traj.positions[:, context:, 0]

    def error(x, y):
        return float(np.linalg.norm(knn_predict(x, y, test_x, k) - test_y, axis=-1).mean())

    test_frames, test_positions = real(n_test, 0)
    test_x, test_y = future_dataset(test_frames, horizon, positions=test_positions)
    pool_frames, pool_positions = real(max(real_amounts), 1)
    starts, _ = real(n_imagined, 2)  # real starts only: their futures are imagined
    imag_x, imag_y = future_dataset(starts, horizon, model=model)
    rows = []
    for n in real_amounts:
        real_x, real_y = future_dataset(pool_frames[:n], horizon, positions=pool_positions[:n])
        rows.append({"real": int(n), "real only": error(real_x, real_y), "imagined only": error(imag_x, imag_y),
                     "real + imagined": error(np.concatenate([real_x, imag_x]), np.concatenate([real_y, imag_y]))})
    return rows
