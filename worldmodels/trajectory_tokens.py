"""Ball trajectories as sentences: continuous positions <-> discrete tokens.

Each axis of the box [0, size] px is cut into `n_bins` equal bins; a position becomes the bin index.
A frame is written as two tokens, x first then y, and y tokens are shifted by n_bins so the two
axes never share a token:

    positions (T, 2) = [(x0, y0), (x1, y1), ...]  ->  tokens (2T,) = [x0, n_bins + y0, x1, n_bins + y1, ...]

Decoding returns bin centres, so a round trip is off by at most half a bin (size / n_bins / 2 px)
per axis. That is the quantization error every token model inherits before it learns anything.
"""

from dataclasses import dataclass

import numpy as np
import torch


def quantize(values, low: float, high: float, n_bins: int) -> np.ndarray:
    """Values in [low, high] -> bin indices 0..n_bins-1 (int64); `high` itself goes in the last bin."""
    values = np.asarray(values, dtype=np.float64)
    if n_bins < 1 or not high > low:
        raise ValueError(f"need n_bins >= 1 and high > low, got n_bins={n_bins}, low={low}, high={high}")
    if not np.all(np.isfinite(values)) or values.min(initial=low) < low or values.max(initial=high) > high:
        raise ValueError(f"values must be finite and inside [{low}, {high}]")
    index = np.floor((values - low) / (high - low) * n_bins).astype(np.int64)
    return np.minimum(index, n_bins - 1)


def dequantize(index, low: float, high: float, n_bins: int) -> np.ndarray:
    """Bin indices -> bin centres (float64)."""
    index = np.asarray(index)
    if index.size and (index.min() < 0 or index.max() >= n_bins):
        raise ValueError(f"bin indices must be in 0..{n_bins - 1}")
    return low + (index + 0.5) * (high - low) / n_bins


@dataclass(frozen=True)
class PositionTokenizer:
    """Positions (..., T, 2) in px <-> tokens (..., 2T), x and y interleaved."""

    size: float = 32.0  # side of the box in px
    n_bins: int = 64  # bins per axis

    def __post_init__(self):
        if self.size <= 0:
            raise ValueError(f"size must be > 0 px, got {self.size}")
        if self.n_bins < 1:
            raise ValueError(f"n_bins must be >= 1, got {self.n_bins}")

    @property
    def vocab_size(self) -> int:
        return 2 * self.n_bins

    @property
    def bin_width(self) -> float:
        """Width of one bin in px."""
        return self.size / self.n_bins

    @property
    def max_error(self) -> float:
        """Largest round-trip error per axis in px (half a bin)."""
        return self.bin_width / 2

    def encode(self, positions) -> np.ndarray:
        """(..., T, 2) px -> (..., 2T) int64 tokens."""
        positions = np.asarray(positions, dtype=np.float64)
        if positions.ndim < 2 or positions.shape[-1] != 2:
            raise ValueError(f"positions must have shape (..., T, 2), got {positions.shape}")
        index = quantize(positions, 0.0, self.size, self.n_bins)
        index[..., 1] += self.n_bins  # y tokens live above the x tokens
        return index.reshape(*positions.shape[:-2], -1)

    def decode(self, tokens) -> np.ndarray:
        """(..., 2T) tokens -> (..., T, 2) px at bin centres. Tokens must alternate x, y."""
        tokens = tokens.cpu().numpy() if isinstance(tokens, torch.Tensor) else np.asarray(tokens)
        if tokens.ndim < 1 or tokens.shape[-1] % 2:
            raise ValueError(f"tokens must have an even last dimension (x, y pairs), got shape {tokens.shape}")
        pairs = tokens.reshape(*tokens.shape[:-1], -1, 2).astype(np.int64)
        xs, ys = pairs[..., 0], pairs[..., 1] - self.n_bins
        if xs.size and (xs.min() < 0 or xs.max() >= self.n_bins or ys.min() < 0 or ys.max() >= self.n_bins):
            raise ValueError(
                f"expected x tokens in 0..{self.n_bins - 1} at even places and y tokens in "
                f"{self.n_bins}..{2 * self.n_bins - 1} at odd places"
            )
        return np.stack([dequantize(xs, 0.0, self.size, self.n_bins), dequantize(ys, 0.0, self.size, self.n_bins)], -1)

    def allowed(self, position: int) -> torch.Tensor:
        """Bool (vocab_size,) mask of the tokens allowed at sequence place `position`: x at even, y at odd."""
        mask = torch.zeros(self.vocab_size, dtype=torch.bool)
        if position % 2 == 0:
            mask[: self.n_bins] = True
        else:
            mask[self.n_bins :] = True
        return mask
