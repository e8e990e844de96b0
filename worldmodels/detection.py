"""Telling generated clips from real ones: ROC and AUC, a physics detector, a small learned detector.

Convention: a detector gives every clip a *score*, higher = "more likely generated". Its quality on a
set of real and generated clips is the ROC curve (true-positive rate, the fraction of generated clips
flagged, against false-positive rate, the fraction of real clips flagged, as the threshold moves) and
the area under it, AUC: the probability that a random generated clip scores above a random real one
(ties count one half). AUC 1 = perfect, 0.5 = a coin.

Two detectors:

- `physics_score`, no training: decode the ball in every frame (centroid) and add up how much the clip
  violates the laws of the one-ball world, each law divided by its scale (LAW_SCALES): speed constant
  between bounces, direction constant between bounces, bounces mirror reflections
  (physics_checks.bounce_angles), the ball keeps its mass and its size. A real clip violates nothing
  (up to the decoding); a generated clip is flagged by what it gets wrong.
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

from .centroid import centroids
from .physics_checks import bounce_angles, displacements, free_flight_mask
from .training import History, TrainConfig, batch_sampler, train


def _scores(real, generated) -> tuple[np.ndarray, np.ndarray]:
    real = np.asarray(real, dtype=np.float64).ravel()
    generated = np.asarray(generated, dtype=np.float64).ravel()
    if real.size == 0 or generated.size == 0:
        raise ValueError(f"need at least one real and one generated score, got {real.size} and {generated.size}")
    if not (np.isfinite(real).all() and np.isfinite(generated).all()):
        raise ValueError("scores must be finite (found NaN or inf)")
    return real, generated


def auc(real_scores, generated_scores) -> float:
    """Area under the ROC curve: P(score of a generated clip > score of a real clip), ties count 1/2.

    Computed from ranks (the Mann-Whitney U statistic), O(n log n).
    """
    real, gen = _scores(real_scores, generated_scores)
    both = np.concatenate([real, gen])
    values, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - 0.5 * (counts - 1))[inverse]  # 1-based ranks, ties get their mean rank
    u = ranks[real.size :].sum() - gen.size * (gen.size + 1) / 2
    return float(u / (real.size * gen.size))


def roc_curve(real_scores, generated_scores) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates), from (0, 0) to (1, 1), one point per distinct threshold."""
    real, gen = _scores(real_scores, generated_scores)
    thresholds = np.unique(np.concatenate([real, gen]))[::-1]
    fpr = np.r_[0.0, [(real >= t).mean() for t in thresholds]]
    tpr = np.r_[0.0, [(gen >= t).mean() for t in thresholds]]
    return fpr, tpr


def bootstrap_auc(real_scores, generated_scores, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC: resample real and generated clips with replacement."""
    real, gen = _scores(real_scores, generated_scores)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    values = [auc(rng.choice(real, real.size), rng.choice(gen, gen.size)) for _ in range(n_boot)]
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def threshold_at_fpr(real_scores, fpr: float = 0.01) -> float:
    """The smallest threshold t that flags (score > t) at most a fraction `fpr` of the real clips."""
    real = np.sort(np.asarray(real_scores, dtype=np.float64).ravel())
    if real.size == 0 or not np.isfinite(real).all():
        raise ValueError("need at least one finite real score")
    if not 0 <= fpr < 1:
        raise ValueError(f"fpr must be in [0, 1), got {fpr}")
    allowed = int(np.floor(fpr * real.size))  # real clips that may lie above the threshold
    return float(real[real.size - 1 - allowed])


def tpr_at_fpr(real_scores, generated_scores, fpr: float = 0.01) -> float:
    """Fraction of generated clips flagged at the threshold that flags at most `fpr` of the real ones."""
    real, gen = _scores(real_scores, generated_scores)
    return float((gen > threshold_at_fpr(real, fpr)).mean())


# ---- the physics detector --------------------------------------------------------------------------

# What one unit of each violation is: a violation of this size adds 1 to the score.
LAW_SCALES = {
    "speed": 0.05,  # relative spread (std / mean) of the speed over free-flight steps
    "direction_deg": 5.0,  # mean turn (degrees) between consecutive free-flight steps
    "bounce_deg": 5.0,  # mean |angle out - angle in| at a bounce
    "mass": 0.10,  # mean |mass of a frame / mass of the world's ball - 1|
    "size": 0.05,  # mean |radius of gyration / the world's ball's - 1|
}


def _ball_reference(radius: float, size: int) -> tuple[float, float]:
    """Mass and radius of gyration of the world's ball, rendered at the centre of the frame."""
    from .render import render

    frame = render(np.array([[[size / 2 + 0.3, size / 2 + 0.2]]]), radius, size)[0].astype(np.float64)
    mass, spread = _mass_and_spread(frame[None])
    return float(mass[0]), float(spread[0])


def _mass_and_spread(frames) -> tuple[np.ndarray, np.ndarray]:
    """Total intensity and radius of gyration sqrt(E|p - centroid|^2) of frames (..., H, W)."""
    h, w = frames.shape[-2:]
    y, x = np.mgrid[0:h, 0:w] + 0.5
    mass = frames.sum(axis=(-2, -1))
    m = np.maximum(mass, 1e-9)
    cx = (frames * x).sum(axis=(-2, -1)) / m
    cy = (frames * y).sum(axis=(-2, -1)) / m
    r2 = (frames * ((x - cx[..., None, None]) ** 2 + (y - cy[..., None, None]) ** 2)).sum(axis=(-2, -1)) / m
    return mass, np.sqrt(r2)


def law_violations(clips, radius: float = 3.0) -> dict[str, np.ndarray]:
    """How much each clip (B, T, H, W) of one ball violates each law of LAW_SCALES, shape (B,) per law.

    A law that no step of a clip can test (no clean bounce, say) is 0 for that clip: no evidence.
    `radius` is the world's ball radius (the size law compares with a rendered ball of that radius).
    """
    clips = np.asarray(clips, dtype=np.float64)
    if clips.ndim != 4 or clips.shape[1] < 4:
        raise ValueError(f"clips must have shape (B, T >= 4, H, W), got {clips.shape}")
    if clips.shape[-1] != clips.shape[-2]:
        raise ValueError(f"frames must be square, got {clips.shape[-2:]}")
    b = clips.shape[0]
    d = displacements(centroids(clips, n_balls=1)[..., 0, :])  # (B, T-1, 2)
    free = free_flight_mask(d)
    speed = np.linalg.norm(d, axis=-1)
    n = free.sum(axis=1)
    mean = np.where(n > 0, (speed * free).sum(axis=1) / np.maximum(n, 1), 1.0)
    var = np.where(n > 1, (((speed - mean[:, None]) ** 2) * free).sum(axis=1) / np.maximum(n, 1), 0.0)
    speed_spread = np.sqrt(var) / np.maximum(mean, 1e-6)

    both = free[:, :-1] & free[:, 1:]  # consecutive free-flight steps: the direction must not turn
    cos = (d[:, :-1] * d[:, 1:]).sum(-1) / np.maximum(speed[:, :-1] * speed[:, 1:], 1e-9)
    turn = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    nb = both.sum(axis=1)
    direction = np.where(nb > 0, (turn * both).sum(axis=1) / np.maximum(nb, 1), 0.0)

    seq, before, after = bounce_angles(d)
    bounce = np.zeros(b)
    if seq.size:
        err = np.abs(after - before)
        bounce = np.bincount(seq, weights=err, minlength=b) / np.maximum(np.bincount(seq, minlength=b), 1)

    ref_mass, ref_spread = _ball_reference(radius, clips.shape[-1])
    mass, spread = _mass_and_spread(clips)
    return {
        "speed": speed_spread,
        "direction_deg": direction,
        "bounce_deg": bounce,
        "mass": np.abs(mass / ref_mass - 1).mean(axis=1),
        "size": np.abs(spread / ref_spread - 1).mean(axis=1),
    }


def physics_score(clips, radius: float = 3.0) -> np.ndarray:
    """The physics detector: sum over the laws of violation / LAW_SCALES, shape (B,). No training."""
    return sum(v / LAW_SCALES[name] for name, v in law_violations(clips, radius).items())


# ---- the learned detector --------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectorConfig:
    length: int = 20  # frames per clip
    size: int = 32  # frame side (a multiple of 8)
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
