"""Seeded data sets of bouncing-ball videos: train / val / test and named out-of-distribution splits.

Every split draws from its own random stream (np.random.SeedSequence([seed, split number])), so two splits
never share a sequence and the same arguments always give identical arrays. Each video comes with its
true states (positions, velocities, actions), so later chapters can measure errors in pixels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from .physics import WorldConfig, random_actions, simulate
from .render import render

CANONICAL = WorldConfig()  # Kalman-VAE setting: 1 ball, 32x32 frames, radius 3 px, 2-3 px/frame
THREE_BALLS = WorldConfig(n_balls=3)  # the same box with three balls that collide with each other

OOD_SPLITS: dict[str, str] = {
    "slower": "initial speeds 0.5-1.5 px/frame instead of the training range",
    "faster": "initial speeds 4-5 px/frame (max_speed raised to at least 5)",
    "smaller_radius": "balls of radius 2 px",
    "larger_radius": "balls of radius 4.5 px",
    "more_balls": "two more balls than the base world (3 for the canonical one)",
}
SPLITS = ("train", "val", "test")
_STREAM = {name: index for index, name in enumerate(SPLITS + tuple(OOD_SPLITS))}  # fixed: never reorder


def ood_world(name: str, base: WorldConfig = CANONICAL) -> WorldConfig:
    """The shifted world of the out-of-distribution split `name` (see OOD_SPLITS), derived from `base`."""
    if name == "slower":
        return dataclasses.replace(base, speed_ranges=((0.5, 1.5),))
    if name == "faster":
        return dataclasses.replace(base, speed_ranges=((4.0, 5.0),), max_speed=max(base.max_speed, 5.0))
    if name == "smaller_radius":
        return dataclasses.replace(base, radius=2.0)
    if name == "larger_radius":
        return dataclasses.replace(base, radius=4.5)
    if name == "more_balls":
        return dataclasses.replace(base, n_balls=base.n_balls + 2)
    raise ValueError(f"unknown out-of-distribution split {name!r}; choose one of {sorted(OOD_SPLITS)}")


@dataclass
class BallVideos:
    """B videos of T frames with their true states.

    frames:     (B, T, H, W) float32 in [0, 1].
    positions:  (B, T, N, 2) float64, px.
    velocities: (B, T, N, 2) float64, px/frame (before the push of frame t).
    actions:    (B, T, 2) float64, pushes on ball 0 (zeros without actions).
    world:      the WorldConfig that generated them.
    Indexing (videos[3], videos[:10], videos[[1, 5]]) returns a BallVideos and keeps the batch axis.
    """

    frames: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray
    actions: np.ndarray
    world: WorldConfig

    def __len__(self) -> int:
        return self.frames.shape[0]

    def __getitem__(self, idx) -> "BallVideos":
        if isinstance(idx, Integral):  # keep the batch axis so shapes stay (B, T, ...)
            idx = [int(idx)]
        return BallVideos(self.frames[idx], self.positions[idx], self.velocities[idx], self.actions[idx], self.world)


def make_split(split: str = "train", n_sequences: int = 1000, n_frames: int = 30, world: WorldConfig = CANONICAL,
               with_actions: bool = False, seed: int = 0) -> BallVideos:
    """Generate a split: "train", "val", "test" (in `world`) or an OOD_SPLITS name (in ood_world(name, world)).

    with_actions: add sparse random pushes on ball 0 (physics.random_actions). The initial states do not
    depend on it: states and actions come from two separate child streams of the split's seed.
    """
    if split not in _STREAM:
        raise ValueError(f"unknown split {split!r}; choose one of {list(_STREAM)}")
    for name, value in (("n_sequences", n_sequences), ("n_frames", n_frames)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not isinstance(world, WorldConfig):
        raise ValueError(f"world must be a WorldConfig, got {type(world).__name__}")
    if split in OOD_SPLITS:
        world = ood_world(split, world)
    state_seq, action_seq = np.random.SeedSequence([int(seed), _STREAM[split]]).spawn(2)
    actions = random_actions(n_sequences, n_frames, np.random.default_rng(action_seq)) if with_actions else None
    traj = simulate(world, n_sequences, n_frames, rng=np.random.default_rng(state_seq), actions=actions)
    frames = render(traj.positions, world.radius, world.size)
    return BallVideos(frames, traj.positions, traj.velocities, traj.actions, world)


# The training world of the world model (chapters 5 and 6): the canonical speeds 2-3 px/frame with the band
# 2.4-2.6 held out, so that the band can test interpolation (Kang et al. 2024's "in the gaps of the training data").
INTERPOLATION_BAND = (2.4, 2.6)
TRAIN_WORLD = WorldConfig(speed_ranges=((2.0, INTERPOLATION_BAND[0]), (INTERPOLATION_BAND[1], 3.0)))


def generalization_splits(n_sequences: int = 256, n_frames: int = 30, seed: int = 0) -> dict[str, BallVideos]:
    """Test splits in the framing of Kang et al. 2024, name -> BallVideos (no pushes):
    "in-distribution" (TRAIN_WORLD), "interpolation" (the held-out speed band INTERPOLATION_BAND),
    and the extrapolation splits of OOD_SPLITS (slower, faster, other radii, more balls)."""
    splits = {
        "in-distribution": make_split("test", n_sequences, n_frames, TRAIN_WORLD, seed=seed),
        "interpolation": make_split(
            "test", n_sequences, n_frames, dataclasses.replace(CANONICAL, speed_ranges=(INTERPOLATION_BAND,)), seed=seed + 1
        ),
    }
    for name in OOD_SPLITS:
        splits[name] = make_split(name, n_sequences, n_frames, CANONICAL, seed=seed)
    return splits
