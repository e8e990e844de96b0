"""Learning the reach task WITHOUT a model: a policy gradient (REINFORCE with a baseline) on real simulator steps.

    real start --policy samples a push--> true simulator step --> ... --> goal frame: return
    raise the log-probability of the pushes in proportion to how much better than average their return was

The comparison chapter 12 needs: how many real environment steps a learner that never builds a model needs
to reach the success of the dream-trained actor. To give it every chance, this learner reads the TRUE state
(position and velocity, px and px/frame), an easier input than the frames the dream-trained actor reads.

Each step of the course's one training loop (worldmodels.training.train) collects a fresh batch of real
episodes with the current policy (`episode_batches`, its randomness drawn from the loop's generator) and
takes one gradient step of `reinforce_loss`. `learning_curve` trains in chunks and measures the success of
the policy's mean push after each, against the real steps spent so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from .physics import apply_push, step
from .planning import ReachTask, Starts, make_starts
from .training import TrainConfig, train
from .world_model import mlp


@dataclass(frozen=True)
class GaussianPolicyConfig:
    hidden: int = 64
    max_push: float = 1.0
    steps: int = 10  # pushes per episode
    size: int = 32  # frame size, px (scales positions)
    init_std: float = 0.5  # initial std of the pushes, px/frame

    def __post_init__(self):
        for name in ("hidden", "steps", "size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if not self.max_push > 0 or not self.init_std > 0:
            raise ValueError(f"max_push and init_std must be > 0, got {self.max_push} and {self.init_std}")


class GaussianPolicy(nn.Module):
    """Pushes ~ Normal(mean(state), std): mean bounded to norm max_push, one learned std per component.
    State: positions (B, 2) px, velocities (B, 2) px/frame, targets (B, 2) px, pushes left (B,)."""

    def __init__(self, config: GaussianPolicyConfig = GaussianPolicyConfig()):
        super().__init__()
        self.config = config
        self.net = mlp([7, config.hidden, config.hidden, 2])
        self.log_std = nn.Parameter(torch.full((2,), math.log(config.init_std)))

    def mean(self, p, v, targets, left) -> torch.Tensor:
        c = self.config
        x = torch.cat([p / c.size - 0.5, v / 4, (targets - p) / c.size, (left / c.steps)[:, None]], dim=-1)
        u = self.net(x)
        norm = u.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        return c.max_push * torch.tanh(norm) * u / norm


def bound(pushes: np.ndarray, max_push: float) -> np.ndarray:
    """Pushes (..., 2) scaled back onto the disc of radius max_push where they leave it."""
    return pushes * np.minimum(1.0, max_push / np.maximum(np.linalg.norm(pushes, axis=-1, keepdims=True), 1e-12))


def episode_batches(policy: GaussianPolicy, task: ReachTask, batch_size: int, start_seed: int = 0):
    """next_batch(generator): `batch_size` fresh real episodes with the current policy (start states and push
    noise drawn with the generator). Returns the states (B, steps, 7 as tensors p, v, targets, left), the
    sampled pushes (B, steps, 2) and the reward-to-go of every step (B, steps)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")

    def next_batch(generator: torch.Generator):
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        starts = make_starts(task, batch_size, seed=seed + start_seed)
        p, v = starts.observation.positions[:, 0].copy(), starts.observation.velocities[:, 0].copy()
        targets = torch.as_tensor(starts.targets, dtype=torch.float32)
        states, samples, costs = [], [], []
        for t in range(task.steps):
            left = torch.full((batch_size,), float(task.steps - t))
            state = (torch.as_tensor(p, dtype=torch.float32), torch.as_tensor(v, dtype=torch.float32), targets, left)
            with torch.no_grad():
                mean = policy.mean(*state)
            sample = mean + policy.log_std.exp().detach() * torch.randn(mean.shape, generator=generator)
            push = bound(sample.double().numpy(), task.max_push)
            vv = apply_push(v[:, None], push, task.world)
            pp, vv = step(p[:, None], vv, task.world)
            p, v = pp[:, 0], vv[:, 0]
            states.append(state), samples.append(sample), costs.append(task.energy_weight * np.square(push).sum(-1))
        costs = np.stack(costs, axis=1)
        costs[:, -1] += np.linalg.norm(p - starts.targets, axis=-1)
        to_go = -np.cumsum(costs[:, ::-1], axis=1)[:, ::-1]
        stacked = tuple(torch.stack([s[i] for s in states], dim=1) for i in range(4))
        return stacked, torch.stack(samples, dim=1), torch.as_tensor(to_go.copy(), dtype=torch.float32)

    return next_batch


def reinforce_loss(policy: GaussianPolicy, batch) -> torch.Tensor:
    """REINFORCE with a baseline: -mean(advantage * log-probability of the sampled push), the advantage being
    the reward-to-go minus its batch mean at the same step, divided by its std (one scale for all steps)."""
    (p, v, targets, left), samples, to_go = batch
    b, t = to_go.shape
    mean = policy.mean(p.reshape(b * t, 2), v.reshape(b * t, 2), targets.reshape(b * t, 2), left.reshape(-1))
    dist = torch.distributions.Normal(mean.reshape(b, t, 2), policy.log_std.exp())
    advantage = to_go - to_go.mean(dim=0, keepdim=True)
    advantage = advantage / advantage.std().clamp_min(1e-6)
    return -(advantage * dist.log_prob(samples).sum(-1)).mean()


@torch.no_grad()
def policy_success(policy: GaussianPolicy, task: ReachTask, starts: Starts) -> np.ndarray:
    """Success (B,) of the policy's MEAN push (no sampling) in the true simulator from every start."""
    obs = starts.observation
    p, v = obs.positions[:, 0].copy(), obs.velocities[:, 0].copy()
    targets = torch.as_tensor(starts.targets, dtype=torch.float32)
    for t in range(task.steps):
        left = torch.full((len(starts),), float(task.steps - t))
        mean = policy.mean(torch.as_tensor(p, dtype=torch.float32), torch.as_tensor(v, dtype=torch.float32), targets, left)
        vv = apply_push(v[:, None], bound(mean.double().numpy(), task.max_push), task.world)
        pp, vv = step(p[:, None], vv, task.world)
        p, v = pp[:, 0], vv[:, 0]
    return np.linalg.norm(p - starts.targets, axis=-1) <= task.success_radius


def learning_curve(task: ReachTask, eval_starts: Starts, *, chunks: int = 10, steps_per_chunk: int = 20,
                   batch_size: int = 256, lr: float = 3e-3, seed: int = 0, config: GaussianPolicyConfig | None = None,
                   progress: bool = False) -> list[dict]:
    """Train a GaussianPolicy for chunks * steps_per_chunk gradient steps (constant learning rate), measuring
    after every chunk: rows {"real_steps", "success"} (the share of eval_starts reached by the mean push).
    The first row (0 real steps) is the untrained policy."""
    if chunks < 1 or steps_per_chunk < 1:
        raise ValueError(f"chunks and steps_per_chunk must be >= 1, got {chunks} and {steps_per_chunk}")
    config = config or GaussianPolicyConfig(steps=task.steps, max_push=task.max_push, size=task.world.size)
    torch.manual_seed(seed)
    policy = GaussianPolicy(config)
    rows = [{"real_steps": 0, "success": float(policy_success(policy, task, eval_starts).mean())}]
    for k in range(chunks):
        optim = TrainConfig(steps=steps_per_chunk, lr=lr, min_lr_fraction=1.0, grad_clip=1.0,
                            eval_every=steps_per_chunk, seed=seed * 1000 + k)
        train(policy, reinforce_loss, episode_batches(policy, task, batch_size, start_seed=1000 * k), optim,
              desc="learning without a model", progress=progress)
        real = (k + 1) * steps_per_chunk * batch_size * task.steps
        rows.append({"real_steps": real, "success": float(policy_success(policy, task, eval_starts).mean())})
    return rows
