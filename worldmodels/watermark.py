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


def _z(chips, signs) -> np.ndarray:
    norm = np.sqrt((chips**2).sum(axis=(1, 2, 3)))
    return (chips * signs).sum(axis=(1, 2, 3)) / np.maximum(norm, 1e-12)


def offsets(shape: tuple[int, int], size: int, max_shift: int = 0) -> list[tuple[int, int]]:
    """Where a received frame of `shape` (h, w) may sit in the key's size x size frame: every (dy, dx) with the
    frame inside it, give or take `max_shift` px (the detector's search, `score(..., max_shift=, size=)`)."""
    h, w = shape
    if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise ValueError(f"max_shift must be an integer >= 0, got {max_shift!r}")
    if h > size + max_shift or w > size + max_shift:
        raise ValueError(f"frames of {h} x {w} do not fit the key's {size} x {size} frame")
    return [(dy, dx) for dy in range(-max_shift, size - h + max_shift + 1)
            for dx in range(-max_shift, size - w + max_shift + 1)]


def score(clips, key: int, config: WatermarkConfig = WatermarkConfig(), max_shift: int = 0,
          size: int | None = None) -> np.ndarray:
    """The correlation statistic z of each clip (B,) with the key's pattern (about N(0, 1) when unmarked).

    By default the clip is read where the key put its pattern. A clip that was shifted (up to `max_shift` px) or
    cropped out of a `size` x `size` frame is read at every placement (`offsets`): its fine detail is put back
    where it would have been and summed over the key's chips; the score is the largest z. Each placement's z
    is still about N(0, 1) when unmarked, so the search needs the higher threshold(fpr, tries=len(offsets))."""
    clips = check_frames(clips, ndim=4, name="clips", dtype=np.float64)
    b, t, h, w = clips.shape
    k = config.block
    if size is None and max_shift == 0:  # read where the key put its pattern
        clips = _check_clips(clips, config)
        chips = _detail(clips).reshape(b, t, h // k, k, w // k, k).sum(axis=(3, 5))
        return _z(chips, chip_signs(key, (t, h, w), k))
    size = max(h, w) if size is None else size
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1 or size % k:
        raise ValueError(f"size must be a positive multiple of block {k}, got {size!r}")
    signs = chip_signs(key, (t, size, size), k)
    detail = _detail(clips)
    # A placement (dy, dx) = (k qy + py, k qx + px) groups the clip's pixels into chips by the remainders (py, px)
    # only; the quotients say which of the key's chips each group meets. So sum the fine detail over the k x k
    # groups once per remainder, then slide the groups over the key's chips (a group is inside the frame or not).
    groups = {}
    for py in range(k):
        for px in range(k):
            gh, gw = -(-(h + py) // k), -(-(w + px) // k)
            padded = np.pad(detail, [(0, 0), (0, 0), (py, gh * k - h - py), (px, gw * k - w - px)])
            groups[py, px] = padded.reshape(b, t, gh, k, gw, k).sum(axis=(3, 5))
    n = size // k
    best = np.full(b, -np.inf)
    for dy, dx in offsets((h, w), size, max_shift):
        (qy, py), (qx, px) = divmod(dy, k), divmod(dx, k)
        g = groups[py, px]
        y0, y1 = max(0, -qy), min(g.shape[2], n - qy)
        x0, x1 = max(0, -qx), min(g.shape[3], n - qx)
        chips = g[:, :, y0:y1, x0:x1]
        best = np.maximum(best, _z(chips, signs[:, y0 + qy : y1 + qy, x0 + qx : x1 + qx]))
    return best


def threshold(fpr: float = 0.01, tries: int = 1) -> float:
    """The z above which a clip is called marked, for a false-positive rate `fpr` (normal quantile). A detector
    that takes the best of `tries` placements uses fpr / tries for each (Bonferroni: at most `fpr` overall)."""
    if not 0 < fpr < 1:
        raise ValueError(f"fpr must be in (0, 1), got {fpr}")
    if isinstance(tries, bool) or not isinstance(tries, (int, np.integer)) or tries < 1:
        raise ValueError(f"tries must be an integer >= 1, got {tries!r}")
    return NormalDist().inv_cdf(1 - fpr / tries)


def detect(clips, key: int, fpr: float = 0.01, config: WatermarkConfig = WatermarkConfig(), max_shift: int = 0,
           size: int | None = None) -> np.ndarray:
    """True for each clip (B,) whose correlation with the key's pattern exceeds threshold(fpr) (searching
    shifts up to `max_shift` px and crops out of a `size` x `size` frame, with the threshold that search needs)."""
    z = score(clips, key, config, max_shift, size)
    h, w = np.shape(clips)[-2:]
    tries = 1 if size is None and max_shift == 0 else len(offsets((h, w), max(h, w) if size is None else size, max_shift))
    return z > threshold(fpr, tries)


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
