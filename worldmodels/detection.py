"""Telling generated clips from real ones: a physics detector and a small learned detector.

Convention: a detector gives every clip a *score*, higher = "more likely generated". How well it separates
real from generated clips is the ROC curve and its area, AUC (worldmodels.stats: `auc`, `roc_curve`,
`bootstrap_auc`, `tpr_at_fpr`): the probability that a random generated clip scores above a random real one.

Three detectors:

- `physics_score`, no training: decode the ball in every frame and measure how much each clip breaks the
  laws of the one-ball world (`laws.clip_violations`: speed and direction constant between bounces, mirror
  bounces, the ball keeps its ink and its size), each law counted in units of its tolerance
  (`laws.CLIP_TOLERANCES`), and add them up. A real clip breaks nothing (up to the decoding); a generated
  clip is flagged by what it gets wrong.
- `context_score`, no training either: the physics score plus how far the clip departs from its start frames
  (`context_terms`: does the ball go on from where, how fast and how big the start left it?). A lawful clip of
  the wrong world (another speed, another ball, played backwards, frozen) obeys every law on its own; it does
  not continue its start.
- `ClipClassifier`, learned: a small convolutional net over a clip's frames and frame differences
  (stacked as channels), trained by `fit_detector` through the course's one loop (training.train) on
  real clips against one generator's clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import CANONICAL
from .laws import CLIP_TOLERANCES, clip_violations
from .training import History, TrainConfig, batch_sampler, train
from .validation import check_frames


def physics_score(clips, world=CANONICAL) -> np.ndarray:
    """The physics detector: sum over the laws of violation / its tolerance (laws.clip_violations,
    laws.CLIP_TOLERANCES), shape (B,). No training. `world` gives the ball the mass and size laws expect."""
    clips = check_frames(clips, size=world.size, ndim=4, min_frames=4, name="clips")
    violations = clip_violations(clips, world)
    return sum(violations[law] / tol for law, tol in CLIP_TOLERANCES.items())


# ---- does the clip continue its start? ---------------------------------------------------------------

# How far a clip may depart from what its start frames set, in the units of each term (context_terms). Real
# clips stay far inside: on the test bed's 512 real test clips the largest values are about 0.07 px, 1.3 %,
# 0.6 % and 0.9 % (measured with decoded centroids; a clip with no free-flight step gets its mean step's speed).
CONTEXT_TOLERANCES = {"start_px": 0.25, "speed": 0.05, "ink": 0.10, "size": 0.05}


def context_terms(context, clips, world=CANONICAL) -> dict[str, np.ndarray]:
    """How far each clip departs from its start frames, per clip (B,). context (B, C >= 3, H, W), clips (B, T, H, W):
    "start_px": distance (px) between the clip's first ball and where the start's last ball, flying on with the
    start's velocity (oracle.estimate_velocity: bounces accounted for) and bouncing off the walls, should be;
    "speed": |the clip's free-flight speed / the start's speed - 1|; "ink", "size": |the clip's median ink (radius of
    gyration) / the start's - 1|. A clip of another world (another speed, another ball), played backwards, or
    frozen, breaks these even when it obeys every law on its own."""
    from .geometry import wall_bounds, wall_step
    from .laws import displacements, free_flight_speed, ink_and_spread, tracks_of
    from .oracle import estimate_velocity

    context = check_frames(context, size=world.size, ndim=4, min_frames=3, name="context", layout="(B, C, H, W)")
    clips = check_frames(clips, size=world.size, ndim=4, min_frames=2, name="clips")
    if len(context) != len(clips):
        raise ValueError(f"context and clips must hold the same number of clips, got {len(context)} and {len(clips)}")
    start = tracks_of(context[:, -3:])[:, :, None]  # (B, 3, 1, 2)
    velocity = estimate_velocity(start, world)[:, 0]
    expected, _ = wall_step(start[:, -1, 0], velocity, *wall_bounds(world))
    track = tracks_of(clips)
    speed = free_flight_speed(track)
    speed = np.where(np.isnan(speed), np.linalg.norm(displacements(track), axis=-1).mean(axis=1), speed)
    ink_start, size_start = ink_and_spread(context)
    ink, size = ink_and_spread(clips)
    ratio = lambda a, b: np.abs(np.median(a, axis=1) / np.maximum(np.median(b, axis=1), 1e-9) - 1)  # noqa: E731
    return {"start_px": np.linalg.norm(track[:, 0] - expected, axis=-1),
            "speed": np.abs(speed / np.maximum(np.linalg.norm(velocity, axis=-1), 1e-9) - 1),
            "ink": ratio(ink, ink_start), "size": ratio(size, size_start)}


def context_score(context, clips, world=CANONICAL) -> np.ndarray:
    """The context-aware detector: the physics score of the clip plus how far it departs from its start frames
    (context_terms, each in units of CONTEXT_TOLERANCES), shape (B,). Higher = more likely generated."""
    terms = context_terms(context, clips, world)
    return physics_score(clips, world) + sum(terms[name] / tol for name, tol in CONTEXT_TOLERANCES.items())


# ---- the learned detector --------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectorConfig:
    length: int = 20  # frames per clip
    size: int = CANONICAL.size  # frame side (a multiple of 8)
    channels: int = 16  # width of the convolutions

    def __post_init__(self):
        for name in ("length", "size", "channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.length < 2:
            raise ValueError(f"length must be >= 2 (the net reads frame differences), got {self.length}")
        if self.size % 8:
            raise ValueError(f"size must be a multiple of 8, got {self.size}")


class ClipClassifier(nn.Module):
    """Clips (B, T, H, W) -> one logit per clip (B,), > 0 = "generated".

    The T frames and their T-1 differences are stacked as channels of one image; three strided 3x3
    convolutions (H -> H/8), a mean over positions and a linear read-out.
    """

    def __init__(self, config: DetectorConfig = DetectorConfig()):
        super().__init__()
        self.config = c = config
        self.net = nn.Sequential(
            nn.Conv2d(2 * c.length - 1, c.channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c.channels, 2 * c.channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * c.channels, 2 * c.channels, 3, stride=2, padding=1), nn.ReLU(),
        )
        self.head = nn.Linear(2 * c.channels, 1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        c = self.config
        if clips.ndim != 4 or clips.shape[1:] != (c.length, c.size, c.size):
            raise ValueError(f"clips must have shape (B, {c.length}, {c.size}, {c.size}), got {tuple(clips.shape)}")
        x = torch.cat([clips, clips[:, 1:] - clips[:, :-1]], dim=1)
        return self.head(self.net(x).mean(dim=(-2, -1)))[:, 0]


def detector_loss(model: ClipClassifier, batch) -> torch.Tensor:
    """Binary cross-entropy of the logits against labels (1 = generated)."""
    clips, labels = batch
    return F.binary_cross_entropy_with_logits(model(clips), labels)


def fit_detector(model: ClipClassifier, real, generated, config: TrainConfig = TrainConfig(steps=300, lr=3e-3, eval_every=50),
                 batch_size: int = 64, desc: str = "detector", progress: bool = True) -> History:
    """Train `model` in place on real (label 0) against generated (label 1) clips (B, T, H, W)."""
    real = check_frames(real, ndim=4, name="real", size=model.config.size, dtype=np.float32, tensor=True)
    generated = check_frames(generated, ndim=4, name="generated", size=model.config.size, dtype=np.float32, tensor=True)
    if real.ndim != 4 or generated.ndim != 4 or real.shape[1:] != generated.shape[1:]:
        raise ValueError(f"real and generated must be clips (B, T, H, W) of one shape, got {tuple(real.shape)} and {tuple(generated.shape)}")
    clips = torch.cat([real, generated])
    labels = torch.cat([torch.zeros(len(real)), torch.ones(len(generated))])
    return train(model, detector_loss, batch_sampler(clips, labels, batch_size=batch_size), config, desc=desc, progress=progress)


@torch.no_grad()
def detector_scores(model: ClipClassifier, clips, batch_size: int = 512) -> np.ndarray:
    """The learned detector's score (its logit) for each clip (B, T, H, W), shape (B,)."""
    model.eval()
    clips = check_frames(clips, ndim=4, name="clips", size=model.config.size, dtype=np.float32, tensor=True)
    return torch.cat([model(clips[i : i + batch_size]) for i in range(0, len(clips), batch_size)]).numpy().astype(np.float64)
