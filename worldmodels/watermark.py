"""A keyed, invisible, spread-spectrum watermark that a cooperating generator adds to its clips.

Embedding: a secret integer key seeds a pseudo-random pattern w of +1 and -1, one sign per 2x2 block
("chip") of every frame, and the generator adds it, faintly, to its clip x (B, T, H, W) in [0, 1]:

    marked = clip(x + strength * w, 0, 1)          strength 0.012: PSNR about 40 dB or better

Detection, by correlation with the key: take the clip's fine detail (the clip minus a blurred copy of
itself, which removes most of the picture and keeps the pattern), sum it over each chip, and correlate
the chip sums Y_k with the signs w_k:

    z = sum_k w_k Y_k / sqrt(sum_k Y_k^2)

Without the mark, for a key the clip knows nothing about, the w_k are fair coin flips independent of
the Y_k, so z has mean 0 and variance exactly 1, and is close to a standard normal (many chips). The
threshold for a false-positive rate p is then the normal quantile, `threshold(p)` (2.33 for 1 %), with
no unmarked clips needed to calibrate it. With the mark, z grows with the number of chips: the pattern
adds up coherently, the picture does not. Chips of 2x2 pixels survive halving the resolution; blur and
noise weaken the mark without removing it. Without the key nobody can compute z: the mark is not
detected (or removed on purpose) by anyone who does not hold the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .validation import check_frames


@dataclass(frozen=True)
class WatermarkConfig:
    strength: float = 0.012  # amplitude added to each pixel (frames are in [0, 1])
    block: int = 2  # side of a chip in pixels: one sign per block x block pixels of a frame

    def __post_init__(self):
        if not 0 < self.strength < 0.5:
            raise ValueError(f"strength must be in (0, 0.5), got {self.strength}")
        if not isinstance(self.block, int) or self.block < 1:
            raise ValueError(f"block must be an integer >= 1, got {self.block!r}")


def _check_clips(clips, config: WatermarkConfig) -> np.ndarray:
    clips = check_frames(clips, ndim=4, name="clips", dtype=np.float64)
    h, w = clips.shape[-2:]
    if h % config.block or w % config.block:
        raise ValueError(f"frame size {h}x{w} must be a multiple of block {config.block}")
    return clips


def _check_key(key) -> int:
    if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or key < 0:
        raise ValueError(f"key must be a non-negative integer, got {key!r}")
    return int(key)


def chip_signs(key: int, shape: tuple[int, int, int], block: int = 2) -> np.ndarray:
    """The key's pattern at chip resolution: +1/-1 of shape (T, H // block, W // block)."""
    key = _check_key(key)
    t, h, w = shape
    rng = np.random.default_rng(np.random.SeedSequence([key, 1010]))
    return rng.choice(np.array([-1.0, 1.0]), size=(t, h // block, w // block))


def pattern(key: int, shape: tuple[int, int, int], block: int = 2) -> np.ndarray:
    """The key's pattern at pixel resolution (T, H, W): each chip's sign repeated over its block."""
    signs = chip_signs(key, shape, block)
    return np.repeat(np.repeat(signs, block, axis=1), block, axis=2)


def embed(clips, key: int, config: WatermarkConfig = WatermarkConfig()) -> np.ndarray:
    """Add the key's pattern to clips (B, T, H, W) in [0, 1]; float32, clipped to [0, 1]."""
    clips = _check_clips(clips, config)
    w = pattern(key, clips.shape[1:], config.block)
    return np.clip(clips + config.strength * w, 0.0, 1.0).astype(np.float32)


def _detail(clips) -> np.ndarray:
    """The clip minus its [1, 2, 1] / 4 blur (edges repeated): fine detail, where the pattern lives."""
    x = np.pad(clips, [(0, 0), (0, 0), (1, 1), (1, 1)], mode="edge")
    x = 0.25 * x[..., :-2, :] + 0.5 * x[..., 1:-1, :] + 0.25 * x[..., 2:, :]
    x = 0.25 * x[..., :, :-2] + 0.5 * x[..., :, 1:-1] + 0.25 * x[..., :, 2:]
    return clips - x


def score(clips, key: int, config: WatermarkConfig = WatermarkConfig()) -> np.ndarray:
    """The correlation statistic z of each clip (B,) with the key's pattern (about N(0, 1) when unmarked)."""
    clips = _check_clips(clips, config)
    b, t, h, w = clips.shape
    k = config.block
    chips = _detail(clips).reshape(b, t, h // k, k, w // k, k).sum(axis=(3, 5))
    signs = chip_signs(key, (t, h, w), k)
    norm = np.sqrt((chips**2).sum(axis=(1, 2, 3)))
    return (chips * signs).sum(axis=(1, 2, 3)) / np.maximum(norm, 1e-12)


def threshold(fpr: float = 0.01) -> float:
    """The z above which a clip is called marked, for a false-positive rate `fpr` (normal quantile)."""
    if not 0 < fpr < 1:
        raise ValueError(f"fpr must be in (0, 1), got {fpr}")
    return NormalDist().inv_cdf(1 - fpr)


def detect(clips, key: int, fpr: float = 0.01, config: WatermarkConfig = WatermarkConfig()) -> np.ndarray:
    """True for each clip (B,) whose correlation with the key's pattern exceeds threshold(fpr)."""
    return score(clips, key, config) > threshold(fpr)


def psnr(marked, original) -> float:
    """Peak signal-to-noise ratio in dB between two arrays of frames in [0, 1] (peak 1)."""
    marked = check_frames(marked, name="marked", dtype=np.float64)
    original = check_frames(original, name="original", dtype=np.float64)
    if marked.shape != original.shape:
        raise ValueError(f"shapes differ: {marked.shape} and {original.shape}")
    mse = float(np.mean((marked - original) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def watermarked(generator, key: int, config: WatermarkConfig = WatermarkConfig()):
    """Wrap a generator (a harness predictor) so that every clip it returns carries the key's mark."""
    _check_key(key)

    def predict(context, actions, horizon):
        return embed(np.clip(np.asarray(generator(context, actions, horizon)), 0.0, 1.0), key, config)

    return predict
