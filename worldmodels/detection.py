"""Telling generated clips from real ones: a physics detector and a small learned detector.

Convention: a detector gives every clip a *score*, higher = "more likely generated". How well it separates
real from generated clips is the ROC curve and its area, AUC (worldmodels.stats: `auc`, `roc_curve`,
`bootstrap_auc`, `tpr_at_fpr`): the probability that a random generated clip scores above a random real one.

Two detectors:

- `physics_score`, no training: decode the ball in every frame and measure how much each clip breaks the
  laws of the one-ball world (`laws.clip_violations`: speed and direction constant between bounces, mirror
  bounces, the ball keeps its ink and its size), each law counted in units of its tolerance
  (`laws.CLIP_TOLERANCES`), and add them up. A real clip breaks nothing (up to the decoding); a generated
  clip is flagged by what it gets wrong.
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


def physics_score(clips, world=CANONICAL) -> np.ndarray:
    """The physics detector: sum over the laws of violation / its tolerance (laws.clip_violations,
    laws.CLIP_TOLERANCES), shape (B,). No training. `world` gives the ball the mass and size laws expect."""
    violations = clip_violations(clips, world)
    return sum(violations[law] / tol for law, tol in CLIP_TOLERANCES.items())


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
    real = torch.as_tensor(np.asarray(real, dtype=np.float32))
    generated = torch.as_tensor(np.asarray(generated, dtype=np.float32))
    if real.ndim != 4 or generated.ndim != 4 or real.shape[1:] != generated.shape[1:]:
        raise ValueError(f"real and generated must be clips (B, T, H, W) of one shape, got {tuple(real.shape)} and {tuple(generated.shape)}")
    clips = torch.cat([real, generated])
    labels = torch.cat([torch.zeros(len(real)), torch.ones(len(generated))])
    return train(model, detector_loss, batch_sampler(clips, labels, batch_size=batch_size), config, desc=desc, progress=progress)


@torch.no_grad()
def detector_scores(model: ClipClassifier, clips, batch_size: int = 512) -> np.ndarray:
    """The learned detector's score (its logit) for each clip (B, T, H, W), shape (B,)."""
    model.eval()
    clips = torch.as_tensor(np.asarray(clips, dtype=np.float32))
    return torch.cat([model(clips[i : i + batch_size]) for i in range(0, len(clips), batch_size)]).numpy().astype(np.float64)
