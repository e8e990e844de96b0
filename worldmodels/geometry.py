"""The geometry of the box: where a ball's centre may go, mirror walls, and a ball's centre from its pixels.

A ball of radius r in a box of side `size` keeps its centre in [r, size - r] on each axis (`wall_bounds`):
it bounces when its edge meets a wall. Between two walls a ball flies on a straight line *folded* by mirror
reflections, so every bounce is a fold of the unfolded straight path:

- `reflect` (NumPy) and `fold` (torch): unbounded coordinates -> their mirror image inside [low, high];
- `wall_step` (NumPy) and `wall_step_torch`: one frame of free flight, the position folded and the velocity
  flipped along each axis that met an odd number of walls;
- `soft_centroid` (torch): the intensity-weighted mean pixel centre of a frame, differentiable (the NumPy
  read-out of one or several balls is `centroid.centroids`).

Pixel (row i, column j) has its centre at (x, y) = (j + 0.5, i + 0.5), as in `render`.
"""

from __future__ import annotations

import numpy as np
import torch

from .validation import check_frames


def wall_bounds(world) -> tuple[float, float]:
    """(low, high): the range of a ball's centre on each axis of a WorldConfig's box, [r, size - r]."""
    return float(world.radius), float(world.size - world.radius)


def reflect(u, low: float, high: float) -> np.ndarray:
    """Fold unbounded straight-line coordinates ``u`` back into ``[low, high]`` by mirror reflection.

    A ball moving freely between two walls at ``low`` and ``high`` (its centre's range) is at
    ``reflect(p + v * t)``: every bounce mirrors the rest of the path, so an unfolded straight line
    describes it exactly.
    """
    if not high > low:
        raise ValueError(f"need high > low, got low={low}, high={high}")
    period = 2.0 * (high - low)
    w = np.mod(np.asarray(u, dtype=np.float64) - low, period)
    return low + np.where(w <= high - low, w, period - w)


def wall_step(p, v, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """One frame of free flight with exact wall reflection (no ball–ball collisions)."""
    u = np.asarray(p, dtype=np.float64) + v
    flips = np.floor((u - low) / (high - low))  # walls crossed along the unfolded line
    return reflect(u, low, high), np.where(np.mod(flips, 2) == 1, -v, v)


def fold(u: torch.Tensor, low, high) -> torch.Tensor:
    """`reflect` in torch: mirror unfolded coordinates back into [low, high] (a straight path becomes
    elastic wall bounces). low and high may be tensors (a learned radius)."""
    if not high > low:
        raise ValueError(f"need high > low, got [{low}, {high}]")
    span = high - low
    w = torch.remainder(u - low, 2 * span)
    return low + torch.where(w > span, 2 * span - w, w)


def wall_step_torch(q: torch.Tensor, v: torch.Tensor, low, high) -> tuple[torch.Tensor, torch.Tensor]:
    """`wall_step` in torch, after the flight: fold positions q (..., 2) that flew past a wall back into
    [low, high], and flip the velocity v (..., 2) along each axis that crossed an odd number of walls."""
    span = high - low
    odd = torch.remainder(torch.floor((q - low) / span), 2) == 1
    return fold(q, low, high), torch.where(odd, -v, v)


def soft_centroid(frames: torch.Tensor) -> torch.Tensor:
    """Frames (..., H, W) -> the intensity-weighted mean pixel centre (..., 2) in px (x, y); the box
    centre for an empty frame. The one-ball read-out of centroid.centroids, differentiable, in torch."""
    frames = check_frames(frames, tensor=True, model_output=True)
    h, w = frames.shape[-2:]
    ys = torch.arange(h, dtype=frames.dtype) + 0.5
    xs = torch.arange(w, dtype=frames.dtype) + 0.5
    mass = frames.sum(dim=(-2, -1))
    safe = mass.clamp_min(1e-6)
    x = (frames.sum(dim=-2) * xs).sum(-1) / safe
    y = (frames.sum(dim=-1) * ys).sum(-1) / safe
    empty = mass <= 1e-6
    x = torch.where(empty, torch.full_like(x, w / 2), x)
    y = torch.where(empty, torch.full_like(y, h / 2), y)
    return torch.stack([x, y], dim=-1)
