"""One place for the rules every learner-facing function applies to its input, at its boundary.

- Frames (`check_frames`): floating point with values in [0, 1] (the course's frames, `render`'s output),
  finite, non-empty, of the world's size when it is known. 0-255 data (uint8 images, say) gets an error that
  says to divide by 255, instead of 252 balls or a flagged real clip later on.
- Horizons (`check_horizon`): an integer >= 1 (physics.check_count's rule).
- Points in the box (`check_points`): finite and inside [0, size] on both axes (planning targets, say).
- A ball to start from (`check_ball_visible`): every context shows a bright pixel (a drawn ball has pixels of
  full intensity), so a model that continues a ball never draws one into an all-black context.

Each check costs one pass over the data, once per call (never per step). check_frames, check_horizon and
check_points return what they checked, so a function starts with
``frames = check_frames(frames, size=world.size, ndim=4)``. tests/test_bad_input.py sweeps every public function
that takes frames or a horizon with each kind of bad input.
"""

from __future__ import annotations

import numpy as np

RANGE_SLACK = 1e-4  # float rounding: a value at most this far outside [0, 1] counts as inside
MODEL_OUTPUT_MAX = 2.0  # a model's frames above this are 0-255 data, not a model straying past 1
BALL_LEVEL = 0.5  # a drawn ball has pixels of full intensity; a context with no pixel above this shows none
LAYOUTS = {2: "(H, W)", 3: "(T, H, W)", 4: "(B, T, H, W)"}


def _numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor: a view of its memory, no copy on the CPU
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def check_frames(frames, *, size: int | None = None, ndim: int | None = None, min_frames: int = 1,
                 name: str = "frames", layout: str | None = None, dtype=None, tensor: bool = False,
                 model_output: bool = False):
    """Check frames (..., H, W) and return them as a NumPy array (a torch tensor with tensor=True).

    Rules: floating point, finite, values in [0, 1], at least one frame (and `min_frames` along axis 1 when
    ndim >= 4), `ndim` dimensions when given, H = W = `size` when given. `layout` names the axes in messages
    (default from ndim, e.g. "(B, T, H, W)"). `dtype` converts (None keeps the frames' own floating type, so
    results do not change). Every error says what to change.

    model_output=True is for frames a model made, which the harness scores (or shows) as they are: a linear
    model's frames may stray a little outside [0, 1], so only values above MODEL_OUTPUT_MAX (0-255 data) are
    refused there; NaN and inf are refused everywhere.
    """
    original, array = frames, _numpy(frames)
    shape = layout or LAYOUTS.get(ndim, "(..., H, W)")
    if array.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be an array of numbers in [0, 1], got dtype {array.dtype}")
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    if array.ndim < 2:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}): give at least one frame")
    if array.ndim >= 4 and array.shape[1] < min_frames:
        raise ValueError(f"{name} must have shape {shape} with at least {min_frames} frames (T >= {min_frames}), "
                         f"got {array.shape}")
    if size is not None and array.shape[-2:] != (size, size):
        raise ValueError(f"{name} must be {size} x {size} like the world's frames, got {array.shape[-2]} x "
                         f"{array.shape[-1]} (shape {array.shape}); render them at the world's size")
    if array.dtype.kind != "f":
        top = int(array.max())
        fix = "divide by 255 (frames.astype(np.float32) / 255)" if top > 1 else "convert with frames.astype(np.float32)"
        raise ValueError(f"{name} must be floating point in [0, 1], got dtype {array.dtype} (max {top}): {fix}")
    low, high = float(array.min()), float(array.max())  # NaN propagates into both
    if not (np.isfinite(low) and np.isfinite(high)):
        bad = "NaN" if np.isnan(array).any() else "inf"
        raise ValueError(f"{name} must be finite, found {bad} in {int((~np.isfinite(array)).sum())} pixel(s): "
                         "replace or drop those frames")
    if high > (MODEL_OUTPUT_MAX if model_output else 1 + RANGE_SLACK):
        fix = ("they look like 0-255 data: divide by 255" if high > MODEL_OUTPUT_MAX
               else "clip them with np.clip(frames, 0, 1)")
        raise ValueError(f"{name} must be in [0, 1], got values up to {high:g}: {fix}")
    if low < -RANGE_SLACK and not model_output:
        raise ValueError(f"{name} must be in [0, 1], got values down to {low:g}: clip them with np.clip(frames, 0, 1)")
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    if tensor:
        import torch

        if torch.is_tensor(original):  # checked; handed back on its device, untouched (memory layout, autograd graph)
            return original if dtype is None else original.to(getattr(torch, np.dtype(dtype).name))
        if not array.flags.writeable or any(step < 0 for step in array.strides):
            array = array.copy()
        return torch.from_numpy(array)
    return array


def check_horizon(horizon, name: str = "horizon") -> int:
    """An integer >= 1 (a number of frames to imagine, of steps, of clips); returns it as an int. The rule is
    physics.check_count's, the package's one check of a count."""
    from .physics import check_count  # physics imports geometry, which imports this module

    return check_count(name, horizon, 1)


def check_points(points, size: float, name: str = "targets") -> np.ndarray:
    """Points (..., 2) in px, finite and inside the box [0, size] on both axes; returns them as float64."""
    array = np.asarray(_numpy(points), dtype=np.float64)
    if array.ndim < 1 or array.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (..., 2) (x, y in px), got {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}): give at least one point")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, found NaN or inf: give points inside the box [0, {size:g}]")
    outside = (array < 0) | (array > size)
    if outside.any():
        raise ValueError(f"{name} must lie inside the box [0, {size:g}] px on both axes, got "
                         f"{int(outside.any(axis=-1).sum())} point(s) outside (e.g. {array[outside.any(axis=-1)][0].tolist()})")
    return array


def check_ball_visible(frames, name: str = "context") -> None:
    """Every sequence of frames (B, T, H, W) must show a ball: a pixel above BALL_LEVEL in one of its frames.
    An all-black context has no ball to continue; a model must not draw one into it."""
    peak = _numpy(frames).reshape(len(frames), -1).max(axis=1)
    empty = np.flatnonzero(peak <= BALL_LEVEL)
    if empty.size:
        raise ValueError(f"the {name} shows no ball in sequence(s) {empty[:5].tolist()} (no pixel above "
                         f"{BALL_LEVEL}): give frames with the ball in them")
