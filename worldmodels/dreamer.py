"""Learning to act in a dream: an actor and a value estimate trained only on rollouts the world model imagines.

    real start frames --encoder--> z_0 --actor--> a_0 --dynamics--> z_1 --actor--> a_1 --> ... --> z_H
                                    |                                 |                              |
                                  value                             value                   decode -> where
                                                                                              the ball ends

- The actor reads the world model's latent z (what the encoder made of the last frames), the target point
  and how many pushes are left, and returns one bounded push (norm <= max_push): a decision is ONE forward
  pass, no search.
- The value head estimates the return still to come from the same inputs. It lets a rollout shorter than
  the episode stop early and count the rest as the value says (bootstrapping).
- The reward of the reach task (chapter 8): each push costs energy_weight * |push|^2, and when the goal
  frame is reached the distance (px) between the target and where the decoded frame shows the ball
  (`soft_position`, a thresholded centroid that gradients flow through).
- The λ-return (`lambda_returns`) blends the rewards actually imagined with the value's guesses.
- The loss (`actor_critic_loss`) is ONE scalar: the actor climbs the λ-return by backpropagating through
  the world model's dynamics (the value's weights held fixed there), and the value regresses on the
  λ-return (held fixed there). So the course's one training loop trains both with one optimizer.

The world model lives inside the ActorCritic (`world_model`): the policy's latent is that model's latent,
and the loop of chapter 12 refits it. Its weights are never changed by actor_critic_loss. Training (the
start states, the loop of rounds) is worldmodels.dreamer_training; the recorded run loads with
worldmodels.registry.load("dreamer").
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from numbers import Real

import numpy as np
import torch
import torch.nn as nn
from torch.func import functional_call

from .physics import apply_push, step
from .planning import READOUT_THRESHOLD, Episodes, ReachTask, Starts
from .render import render
from .validation import check_frames, check_points
from .world_model import WorldModel, WorldModelConfig, mlp


@dataclass(frozen=True)
class ActorCriticConfig:
    hidden: int = 128  # width of the actor's and the value's two hidden layers
    max_push: float = 1.0  # norm bound of a push, px/frame (the task's)
    steps: int = 10  # pushes per episode (the task's): "pushes left" is read as a fraction of it
    world_model: dict = field(default_factory=lambda: dataclasses.asdict(WorldModelConfig()))

    def __post_init__(self):
        for name in ("hidden", "steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.max_push, Real) or not math.isfinite(self.max_push) or self.max_push <= 0:
            raise ValueError(f"max_push must be a finite number > 0, got {self.max_push!r}")
        if not isinstance(self.world_model, dict):
            raise ValueError(f"world_model must be a WorldModelConfig as a dict, got {type(self.world_model).__name__}")
        WorldModelConfig(**self.world_model)  # checks it


class ActorCritic(nn.Module):
    """Actor and value on top of a world model's latent. Inputs: latents z (B, latent), targets (B, 2) px,
    pushes left (B,) in 0..steps."""

    def __init__(self, config: ActorCriticConfig = ActorCriticConfig()):
        super().__init__()
        self.config = c = config
        self.world_model = WorldModel(WorldModelConfig(**c.world_model))
        inputs = self.world_model.config.latent + 3
        self.norm = nn.LayerNorm(self.world_model.config.latent)  # latents span tens of units: rescale them
        self.actor = mlp([inputs, c.hidden, c.hidden, 2])
        self.value = mlp([inputs, c.hidden, c.hidden, 1])

    def features(self, z: torch.Tensor, targets: torch.Tensor, left: torch.Tensor) -> torch.Tensor:
        """What the actor and the value read: the latent, the target scaled to [-0.5, 0.5], the share of pushes left."""
        size = self.world_model.config.size
        if z.ndim != 2 or targets.shape != (z.shape[0], 2) or left.shape != (z.shape[0],):
            raise ValueError(f"need z (B, latent), targets (B, 2), left (B,); got {tuple(z.shape)}, "
                             f"{tuple(targets.shape)}, {tuple(left.shape)}")
        return torch.cat([self.norm(z), targets / size - 0.5, (left / self.config.steps)[:, None]], dim=-1)

    def act(self, z, targets, left) -> torch.Tensor:
        """The push (B, 2): the actor's output u rescaled to norm max_push * tanh(|u|) (a smooth bound)."""
        u = self.actor(self.features(z, targets, left))
        norm = u.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        return self.config.max_push * torch.tanh(norm) * u / norm

    def value_of(self, z, targets, left, *, frozen: bool = False) -> torch.Tensor:
        """The value (B,): the return still to come. frozen=True: the same numbers, but no gradient reaches
        the value's weights (gradients still flow into z): what the actor's loss uses."""
        x = self.features(z, targets, left)
        if not frozen:
            return self.value(x)[:, 0]
        weights = {name: p.detach() for name, p in self.value.named_parameters()}
        return functional_call(self.value, weights, (x,))[:, 0]


# ------------------------------------------------------------------------------------------ the read-out


def soft_position(model: WorldModel, z: torch.Tensor, threshold: float = READOUT_THRESHOLD) -> torch.Tensor:
    """Where the decoded frame of latents z (..., latent) shows the ball, (..., 2) px (x, y): the centroid
    of the pixels brighter than `threshold` (chapter 8's read-out), differentiable with respect to z."""
    frames = model.decode(z)
    size = frames.shape[-1]
    weights = torch.relu(frames - threshold)
    coords = torch.arange(size, dtype=frames.dtype) + 0.5
    mass = weights.sum(dim=(-2, -1)).clamp_min(1e-6)
    x = (weights.sum(dim=-2) * coords).sum(dim=-1) / mass
    y = (weights.sum(dim=-1) * coords).sum(dim=-1) / mass
    return torch.stack([x, y], dim=-1)


# ------------------------------------------------------------------------------------------ the λ-return


def lambda_returns(rewards: torch.Tensor, values: torch.Tensor, lam: float, discount: float = 1.0) -> torch.Tensor:
    """λ-returns of imagined rollouts: rewards (B, H) of steps 0..H-1, values (B, H + 1) of states 0..H.

        G_H = v_H,   G_t = r_t + discount * ((1 - lam) * v_t+1 + lam * G_t+1)

    lam = 1: the rewards summed to the end plus the last value (Monte Carlo); lam = 0: one reward plus the
    next value (temporal difference). Returns (B, H), the return G_t of every state t < H."""
    if rewards.ndim != 2 or values.shape != (rewards.shape[0], rewards.shape[1] + 1):
        raise ValueError(f"need rewards (B, H) and values (B, H + 1), got {tuple(rewards.shape)} and {tuple(values.shape)}")
    if not 0 <= lam <= 1 or not 0 <= discount <= 1:
        raise ValueError(f"lam and discount must be in [0, 1], got {lam} and {discount}")
    g = values[:, -1]
    out = []
    for t in reversed(range(rewards.shape[1])):
        g = rewards[:, t] + discount * ((1 - lam) * values[:, t + 1] + lam * g)
        out.append(g)
    return torch.stack(out[::-1], dim=1)


# ------------------------------------------------------------------------------- imagined rollouts, the loss


@dataclass
class Imagined:
    """A batch of imagined rollouts of H steps: latents (B, H + 1, latent), pushes (B, H, 2), rewards (B, H),
    left (B, H + 1): pushes left at each state (0 from the goal frame on), values (B, H + 1) (zero once
    the goal frame is reached), positions (B, H + 1, 2) or None: where each imagined frame shows the ball."""

    latents: torch.Tensor
    pushes: torch.Tensor
    rewards: torch.Tensor
    left: torch.Tensor
    values: torch.Tensor
    positions: torch.Tensor


def imagine(agent: ActorCritic, z0: torch.Tensor, targets: torch.Tensor, left: torch.Tensor, horizon: int,
            energy_weight: float, noise: float = 0.0, generator: torch.Generator | None = None,
            frozen_value: bool = True, all_positions: bool = False, zone=None) -> Imagined:
    """Let the actor act for `horizon` steps inside the world model from latents z0 (B, latent) with `left`
    (B,) pushes left. The reward of a push is -energy_weight * |push|^2, minus the distance between the
    imagined ball and the target at the goal frame; after the goal frame rewards are zero. `noise` adds
    Gaussian exploration (std in px/frame, before the bound) to the pushes. all_positions: also read where
    every imagined frame shows the ball (Imagined.positions; None otherwise). zone = (x, y, radius, weight): a
    forbidden disc (px) the ball's centre must stay out of; every step that ends inside it costs weight * how
    deep inside (px), read from every decoded frame (the harder variant of the task)."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    wm = agent.world_model
    z, left = z0, left.float()
    latents, pushes, rewards, lefts = [z], [], [], [left]
    for _ in range(horizon):
        live = (left > 0).float()
        a = agent.act(z, targets, left)
        if noise > 0:
            a = a + noise * torch.randn(a.shape, generator=generator)
            a = a * torch.clamp(agent.config.max_push / a.norm(dim=-1, keepdim=True).clamp_min(1e-6), max=1.0)
        a = a * live[:, None]  # after the goal frame: no pushes
        z = wm.step(z, a)
        left = (left - 1).clamp_min(0)
        latents.append(z), pushes.append(a), lefts.append(left)
        rewards.append(-energy_weight * a.square().sum(-1))
    latents = torch.stack(latents, dim=1)
    lefts = torch.stack(lefts, dim=1)
    alive = lefts > 0
    pushes, rewards = torch.stack(pushes, dim=1), torch.stack(rewards, dim=1)
    # the distance counts at the step that reaches the goal frame (alive before it, not after); only those
    # latents are decoded (decoding is the costly part)
    arrives = (alive[:, :-1] & ~alive[:, 1:]).float()
    b, h1 = latents.shape[:2]
    goal = latents[torch.arange(b), arrives.argmax(dim=1) + 1]
    distance = (soft_position(wm, goal) - targets).norm(dim=-1)
    rewards = rewards - arrives * distance[:, None]
    positions = soft_position(wm, latents) if all_positions or zone is not None else None
    if zone is not None:
        x, y, radius, weight = zone
        depth = torch.relu(radius - (positions[:, 1:] - torch.tensor([x, y], dtype=positions.dtype)).norm(dim=-1))
        rewards = rewards - weight * depth * alive[:, :-1].float()
    values = agent.value_of(latents.reshape(b * h1, -1), targets.repeat_interleave(h1, 0), lefts.reshape(-1),
                            frozen=frozen_value).reshape(b, h1)
    values = values * alive.float()
    return Imagined(latents, pushes, rewards, lefts, values, positions)


def actor_critic_loss(agent: ActorCritic, z0: torch.Tensor, targets: torch.Tensor, left: torch.Tensor, *,
                      horizon: int, energy_weight: float, lam: float = 0.95, zone=None) -> torch.Tensor:
    """One scalar for the one training loop: actor loss + value loss on imagined rollouts from z0.

    actor: -(mean λ-return over the imagined states before the goal frame), gradients flowing through the
    world model's dynamics and read-out into the actor (the value's weights held fixed);
    value: 0.5 * mean squared error between the value of those states (their latents detached) and their
    λ-return (detached). The world model's weights get gradients here but are not trained (see
    dreamer_training: they are frozen while the actor learns). zone: see imagine."""
    im = imagine(agent, z0, targets, left, horizon, energy_weight, zone=zone)
    returns = lambda_returns(im.rewards, im.values, lam)
    live = (im.left[:, :-1] > 0).float()
    count = live.sum().clamp_min(1.0)
    actor_loss = -(returns * live).sum() / count
    b, h = returns.shape
    predicted = agent.value_of(im.latents[:, :h].detach().reshape(b * h, -1), targets.repeat_interleave(h, 0),
                               im.left[:, :h].reshape(-1)).reshape(b, h)
    value_loss = 0.5 * ((predicted - returns.detach()).square() * live).sum() / count
    return actor_loss + value_loss


# ------------------------------------------------------------------------------------------ acting


def policy_pushes(agent: ActorCritic, frames, targets, left) -> np.ndarray:
    """One decision for B episodes: the last frames (B, C >= context, H, W), targets (B, 2) px, pushes left
    (B,) -> pushes (B, 2). One forward pass of the encoder and the actor."""
    config = agent.world_model.config
    frames = check_frames(frames, size=config.size, ndim=4, min_frames=config.context, layout="(B, C, H, W)",
                          dtype=np.float32, tensor=True)[:, -config.context:]
    targets = check_points(targets, config.size)
    if targets.shape != (frames.shape[0], 2):
        raise ValueError(f"targets must have shape ({frames.shape[0]}, 2), one per episode, got {targets.shape}")
    with torch.no_grad():
        z = agent.world_model.encode(frames)
        targets = torch.as_tensor(targets, dtype=torch.float32)
        left = torch.as_tensor(np.broadcast_to(np.asarray(left, dtype=np.float32), (frames.shape[0],)).copy())
        return agent.act(z, targets, left).double().numpy()


def run_policy(agent: ActorCritic, task: ReachTask, starts: Starts, noise: float = 0.0, seed: int = 0) -> Episodes:
    """The actor acting in the TRUE simulator from every start (one forward pass per decision, all starts at
    once), optionally with Gaussian exploration noise (px/frame, then bounded). Returns chapter 8's
    Episodes (plans: the pushes; decision_seconds: one entry per step, all B episodes)."""
    if len(starts) < 1:
        raise ValueError("need at least one start")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    obs, targets, world = starts.observation, starts.targets, task.world
    p, v = obs.positions.copy(), obs.velocities.copy()
    frames, positions, pushes, seconds = [obs.frames], [p[:, 0]], [], []
    for t in range(task.steps):
        seen = np.concatenate(frames, axis=1)[:, -task.context:]
        start = time.perf_counter()
        push = policy_pushes(agent, seen, targets, task.steps - t)
        seconds.append(time.perf_counter() - start)
        if noise > 0:
            push = push + noise * rng.standard_normal(push.shape)
            push = push * np.minimum(1.0, task.max_push / np.maximum(np.linalg.norm(push, axis=-1, keepdims=True), 1e-12))
        v = apply_push(v, push, world)
        p, v = step(p, v, world)
        positions.append(p[:, 0]), pushes.append(push)
        frames.append(render(p, world.radius, world.size)[:, None])
    distance = np.linalg.norm(positions[-1] - targets, axis=-1)
    pushes = np.stack(pushes, axis=1)
    return Episodes(np.stack(positions, axis=1), np.concatenate(frames, axis=1), pushes, pushes.copy(), distance,
                    distance <= task.success_radius, np.square(pushes).sum(axis=(1, 2)), seconds)


@dataclass
class Dream:
    """The actor's dream of B episodes: frames (B, steps + 1, H, W) decoded from the start latent and every
    imagined latent, positions (B, steps + 1, 2) read from them, pushes (B, steps, 2), the imagined distance
    at the goal frame (B,) and the imagined return (B,) = -(distance + energy_weight * energy), less the
    forbidden zone's penalty when there is one."""

    frames: np.ndarray
    positions: np.ndarray
    pushes: np.ndarray
    distance: np.ndarray
    returns: np.ndarray


@torch.no_grad()
def dream(agent: ActorCritic, task: ReachTask, starts: Starts, zone=None) -> Dream:
    """The actor acting entirely inside the world model from the real start frames, for the task's steps
    (zone: the forbidden disc of imagine; its penalty then counts in the imagined return)."""
    if len(starts) < 1:
        raise ValueError("need at least one start")
    wm = agent.world_model
    z0 = wm.encode(torch.as_tensor(starts.observation.frames, dtype=torch.float32))
    targets = torch.as_tensor(starts.targets, dtype=torch.float32)
    left = torch.full((len(starts),), float(task.steps))
    im = imagine(agent, z0, targets, left, task.steps, task.energy_weight, all_positions=True, zone=zone)
    distance = (im.positions[:, -1] - targets).norm(dim=-1)
    return Dream(wm.decode(im.latents).numpy(), im.positions.numpy(), im.pushes.double().numpy(), distance.numpy(),
                 im.rewards.sum(dim=1).numpy())


def real_returns(episodes: Episodes, energy_weight: float, zone=None) -> np.ndarray:
    """The true return of real episodes (B,): -(distance at the goal frame + energy_weight * energy), less
    weight * depth inside the forbidden zone (x, y, radius, weight) summed over the frames after each push."""
    out = -(episodes.distance + energy_weight * episodes.energy)
    if zone is not None:
        out = out - zone[3] * zone_depth(episodes.positions[:, 1:], zone).sum(axis=1)
    return out


def zone_depth(positions, zone) -> np.ndarray:
    """How deep (px) positions (..., 2) lie inside the forbidden disc zone = (x, y, radius, weight); 0 outside."""
    x, y, radius = zone[:3]
    if not radius > 0:
        raise ValueError(f"the zone's radius must be > 0, got {radius}")
    return np.maximum(0.0, radius - np.linalg.norm(np.asarray(positions) - np.array([x, y]), axis=-1))
