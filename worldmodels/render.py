"""Render ball positions to anti-aliased grey-scale frames.

A pixel's intensity is clip(radius + 0.5 - d, 0, 1), where d is the distance from the pixel's centre to
the ball's centre: 1 well inside the disc, 0 well outside, a one-pixel linear ramp across the rim. Several
balls combine with max. Pixel (row i, column j) has its centre at (x, y) = (j + 0.5, i + 0.5).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

_CHUNK_PIXELS = 1 << 22  # frames x balls x pixels per chunk: bounds the temporary arrays to ~16 MB


def render(positions, radius: float, size: int, *, dtype=np.float32) -> np.ndarray:
    """Positions (..., N, 2) in px -> frames (..., size, size) in [0, 1] of `dtype` (float32 by default)."""
    if not isinstance(radius, Real) or not math.isfinite(radius) or radius <= 0:
        raise ValueError(f"radius must be a finite number > 0 (px), got {radius!r}")
    if isinstance(size, bool) or not isinstance(size, Integral) or size < 1:
        raise ValueError(f"size must be an integer number of pixels >= 1, got {size!r}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating-point type such as np.float32, got {dtype}")
    positions = np.asarray(positions)
    if positions.ndim < 2 or positions.shape[-1] != 2:
        raise ValueError(f"positions must have shape (..., n_balls, 2), got {positions.shape}")
    if not np.isfinite(positions).all():
        raise ValueError("positions must be finite (found NaN or inf)")
    lead, n = positions.shape[:-2], positions.shape[-2]
    if n == 0:  # no balls: empty frames
        return np.zeros(lead + (size, size), dtype=dtype)
    flat = positions.reshape(-1, n, 2).astype(dtype)
    out = np.empty((flat.shape[0], size, size), dtype=dtype)
    centres = np.arange(size, dtype=dtype) + dtype.type(0.5)
    rim = dtype.type(radius + 0.5)
    chunk = max(1, _CHUNK_PIXELS // (max(n, 1) * size * size))
    for start in range(0, flat.shape[0], chunk):
        pos = flat[start : start + chunk]
        dx2 = np.square(centres - pos[..., 0:1])  # (m, N, W)
        dy2 = np.square(centres - pos[..., 1:2])  # (m, N, H)
        dist = np.sqrt(dy2[..., :, None] + dx2[..., None, :])  # (m, N, H, W)
        frames = dist[:, 0] if n == 1 else dist.min(axis=1)  # max of intensities = nearest ball's
        np.subtract(rim, frames, out=frames)
        np.clip(frames, 0, 1, out=out[start : start + chunk])
    return out.reshape(lead + (size, size))


def render_trajectory(traj) -> np.ndarray:
    """Frames (B, T, H, W) float32 of a physics.Trajectory."""
    return render(traj.positions, traj.config.radius, traj.config.size)


def render_torch(positions, radius: float, size: int):
    """The same formula as :func:`render`, in torch (for rendering training batches on the fly):
    positions (..., N, 2) tensor -> frames (..., size, size) tensor of the positions' dtype."""
    import torch  # only the training code needs torch; render() stays NumPy-only

    centres = torch.arange(size, dtype=positions.dtype) + 0.5
    dx = centres - positions[..., 0, None]  # (..., N, W)
    dy = centres - positions[..., 1, None]  # (..., N, H)
    dist = torch.sqrt(dy[..., :, None] ** 2 + dx[..., None, :] ** 2)  # (..., N, H, W)
    return (radius + 0.5 - dist).clamp(0, 1).amax(dim=-3)
