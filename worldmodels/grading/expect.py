"""What a grading test asks of a learner's result before it compares values: a number, or an array of a shape.

Each failure is an AssertionError whose message names the function (`what`) and what came back, which the
grader shows as the reason. Tensors are read as arrays (detached from any gradient).
"""

from __future__ import annotations

import numpy as np


def expect_number(result, what: str) -> float:
    """`result` as one finite float: a Python number, or a tensor or array holding exactly one."""
    if hasattr(result, "numel"):  # a torch tensor
        assert result.numel() == 1, f"expected {what} to return a scalar, got shape {tuple(result.shape)}"
        result = result.item()
    value = float(result)
    assert np.isfinite(value), f"expected a finite number from {what}, got {value}"
    return value


def expect_array(result, what: str, shape: tuple | None = None, *, floats: bool = True) -> np.ndarray:
    """`result` as a NumPy array: float64 and finite with floats=True (as returned, any dtype, otherwise),
    of `shape` when it is given."""
    if hasattr(result, "detach"):  # a torch tensor
        result = result.detach().numpy()
    out = np.asarray(result, dtype=np.float64) if floats else np.asarray(result)
    if shape is not None:
        assert out.shape == shape, f"expected {what} to return shape {shape}, got {out.shape}"
    if floats:
        assert np.all(np.isfinite(out)), f"expected finite numbers from {what}, got {out.tolist()}"
    return out
