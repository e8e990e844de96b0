"""From frames back to ball positions, to measure predictions in pixels rather than in pixel-MSE.

One ball: the intensity-weighted mean of the pixel centres. The rendered disc is symmetric about the true
centre, so away from the walls this is sub-pixel accurate (the tests measure it on rendered frames).
Several balls: a few iterations of weighted k-means over the lit pixels, started from a guess.
An empty frame (no pixel above the threshold) gives the box centre for every ball, never NaN.
"""

from __future__ import annotations

import itertools
import math
from numbers import Integral, Real

import numpy as np

from .validation import check_frames

_CHUNK_FRAMES = 2048
_BRUTE_FORCE_BALLS = 5  # match_error tries all N! pairings up to this many balls
_MAX_MATCH_BALLS = 12  # ... and beyond, a table of 2^N subsets per frame


def centroids(frames, n_balls: int = 1, init=None, threshold: float = 0.0, n_iter: int = 10) -> np.ndarray:
    """Frames (..., H, W) -> positions (..., n_balls, 2) in px (x, y).

    Pixels with intensity <= `threshold` are ignored; the others weigh by their intensity.
    n_balls > 1: weighted k-means for `n_iter` iterations, started from `init` (..., n_balls, 2) when
    given (e.g. the true or the previous frame's positions), else from greedy far-apart bright pixels.
    A frame with no pixel above the threshold returns the box centre (W / 2, H / 2) for every ball.
    """
    frames = check_frames(frames, model_output=True)  # decodes predictions too: only 0-255 data and NaN are refused
    if isinstance(n_balls, bool) or not isinstance(n_balls, Integral) or n_balls < 1:
        raise ValueError(f"n_balls must be an integer >= 1, got {n_balls!r}")
    if not isinstance(threshold, Real) or not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, Integral) or n_iter < 0:
        raise ValueError(f"n_iter must be an integer >= 0, got {n_iter!r}")
    lead, (h, w) = frames.shape[:-2], frames.shape[-2:]
    flat = frames.reshape(-1, h, w)
    if n_balls == 1:
        out = np.empty((flat.shape[0], 1, 2))
        total = np.empty(flat.shape[0])
        xs, ys = np.arange(w) + 0.5, np.arange(h) + 0.5
        for s in range(0, flat.shape[0], _CHUNK_FRAMES):  # chunks keep the temporaries in cache
            part = flat[s : s + _CHUNK_FRAMES]
            weights = np.where(part > threshold, part, 0)
            cols = weights.sum(axis=1, dtype=np.float64)  # (m, W): mass per column
            rows = weights.sum(axis=2, dtype=np.float64)  # (m, H): mass per row
            total[s : s + _CHUNK_FRAMES] = mass = cols.sum(axis=1)
            safe = np.where(mass > 0, mass, 1.0)
            out[s : s + _CHUNK_FRAMES, 0, 0] = cols @ xs / safe
            out[s : s + _CHUNK_FRAMES, 0, 1] = rows @ ys / safe
    else:
        if init is not None:
            init = np.asarray(init, dtype=np.float64)
            if init.shape != lead + (n_balls, 2):
                raise ValueError(f"init must have shape {lead + (n_balls, 2)} (..., n_balls, 2), got {init.shape}")
            init = init.reshape(-1, n_balls, 2)
        frame, pixel = np.nonzero(flat.reshape(-1, h * w) > threshold)  # lit pixels, a ragged list by frame
        weight = flat.reshape(-1, h * w)[frame, pixel].astype(np.float64)
        total = np.bincount(frame, weight, minlength=flat.shape[0])
        out = _kmeans(frame, pixel % w + 0.5, pixel // w + 0.5, weight, flat.shape[0], n_balls, init, n_iter)
    out[total <= 0] = (w / 2, h / 2)  # empty frame: the box centre
    return out.reshape(lead + (n_balls, 2))


def _segment_argmax(values, frame, m):
    """Index (into values) of the largest value of each frame, for a ragged list sorted by frame; frames
    with no entries get index 0 (their result is overwritten by the caller)."""
    best = np.full(m, -np.inf)
    np.maximum.at(best, frame, values)
    first = np.zeros(m, dtype=np.int64)
    winners = np.flatnonzero(values == best[frame])
    seen, where = np.unique(frame[winners], return_index=True)  # first winner of each frame
    first[seen] = winners[where]
    return first


def _kmeans(frame, x, y, wt, m, k, start, n_iter):
    """Weighted k-means of lit pixels given as a ragged list sorted by frame (frame index, pixel centre
    x and y, weight; length L) -> centres (m, k, 2) for m frames."""
    if frame.size == 0:
        return np.zeros((m, k, 2))
    if start is None:  # greedy start: brightest pixel, then the bright pixel farthest from those chosen
        centres = np.zeros((m, k, 2))
        near = np.full(frame.size, np.inf)
        score = wt
        for c in range(k):
            pick = _segment_argmax(score, frame, m)
            centres[:, c, 0], centres[:, c, 1] = x[pick], y[pick]
            near = np.minimum(near, (x - centres[frame, c, 0]) ** 2 + (y - centres[frame, c, 1]) ** 2)
            score = wt * near
    else:
        centres = start.copy()
    slot = None
    for _ in range(n_iter):
        d2 = (centres[frame, :, 0] - x[:, None]) ** 2 + (centres[frame, :, 1] - y[:, None]) ** 2  # (L, k)
        previous, slot = slot, frame * k + d2.argmin(axis=1)  # which (frame, cluster) each lit pixel joins
        if previous is not None and np.array_equal(slot, previous):
            break  # converged: the centres would not move
        mass = np.bincount(slot, wt, minlength=m * k)
        sx = np.bincount(slot, wt * x, minlength=m * k)
        sy = np.bincount(slot, wt * y, minlength=m * k)
        found = mass > 0  # a cluster that lost all its pixels keeps its centre
        flat = centres.reshape(m * k, 2)
        flat[found, 0] = sx[found] / mass[found]
        flat[found, 1] = sy[found] / mass[found]
    return centres


def match_error(pred, true) -> np.ndarray:
    """Mean distance in px between predicted and true balls under the best one-to-one matching.

    pred, true: (..., N, 2) -> (...,). Balls are interchangeable in frames, so the pairing of least total
    distance is used: for up to _BRUTE_FORCE_BALLS balls every pairing is tried, beyond that an exact
    dynamic programme over subsets of true balls (N 2^N steps per frame, the same minimum) finds it. At most
    _MAX_MATCH_BALLS balls (its table holds 2^N entries per frame).
    """
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape or pred.ndim < 2 or pred.shape[-1] != 2:
        raise ValueError(f"pred and true must have the same shape (..., N, 2), got {pred.shape} and {true.shape}")
    n = pred.shape[-2]
    if n > _MAX_MATCH_BALLS:
        raise ValueError(f"match_error pairs at most {_MAX_MATCH_BALLS} balls (its table grows as 2^N), got {n}")
    if n <= _BRUTE_FORCE_BALLS:
        perms = np.array(list(itertools.permutations(range(n))))  # (P, N)
        dist = np.linalg.norm(np.take(pred, perms, axis=-2) - true[..., None, :, :], axis=-1)  # (..., P, N)
        return dist.mean(axis=-1).min(axis=-1)
    lead = pred.shape[:-2]
    cost = np.linalg.norm(pred.reshape(-1, n, 1, 2) - true.reshape(-1, 1, n, 2), axis=-1)  # (M, pred i, true j)
    chunk = max(1, (1 << 22) // (1 << n))  # frames per pass: the table stays at about 32 MB
    out = np.concatenate([np.zeros(0)] + [_assignment_cost(cost[s : s + chunk]) for s in range(0, len(cost), chunk)]) / n
    return out.reshape(lead)[()]


def _popcount_layers(n: int) -> list[np.ndarray]:
    """The subsets of n items as bit masks, grouped by size: layer r holds the masks with r bits set."""
    masks = np.arange(1 << n)
    sizes = np.array([bin(m).count("1") for m in masks])
    return [masks[sizes == r] for r in range(n + 1)]


def _assignment_cost(cost: np.ndarray) -> np.ndarray:
    """Least total cost of a one-to-one assignment, cost (M, N, N) [row i, column j] -> (M,).

    best[mask] is the least cost of giving the first popcount(mask) rows the columns in mask; it is built
    layer by layer, row r taking each column j of the mask in turn."""
    m, n = cost.shape[:2]
    best = np.full((m, 1 << n), np.inf)
    best[:, 0] = 0.0
    layers = _popcount_layers(n)
    for r in range(n):  # row r joins: masks of r + 1 bits
        masks = layers[r + 1]
        here = np.full((m, len(masks)), np.inf)
        for j in range(n):
            has = (masks >> j) & 1 == 1
            here[:, has] = np.minimum(here[:, has], best[:, masks[has] ^ (1 << j)] + cost[:, r, j : j + 1])
        best[:, masks] = here
    return best[:, -1]
