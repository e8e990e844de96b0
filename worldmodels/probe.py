"""Linear probes: is a quantity *linearly* readable from a model's latent state?

Fit an affine map latent -> target (ridge-regularised least squares) on one set of sequences and score it
on another with R^2 = 1 - SSE / SST per target dimension. R^2 near 1 on held-out data means the latent
holds the quantity in a simple, explicit form (here: the ball's position and velocity, which nobody told
the model about); near 0 means a linear read-out finds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LinearProbe:
    weights: np.ndarray  # (D, P)
    bias: np.ndarray  # (P,)

    def predict(self, features) -> np.ndarray:
        """Features (M, D) -> predictions (M, P)."""
        features = _as_2d(features, "features")
        if features.shape[1] != self.weights.shape[0]:
            raise ValueError(f"features have {features.shape[1]} dimensions, the probe was fit on {self.weights.shape[0]}")
        return features @ self.weights + self.bias


def _as_2d(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (M, D), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    return x


def fit_linear_probe(features, targets, ridge: float = 1e-6) -> LinearProbe:
    """Least squares with an intercept: features (M, D), targets (M, P) or (M,). `ridge` (>= 0) adds
    ridge * M * I to the normal equations (features are centred first, so the bias is not penalised)."""
    x, y = _as_2d(features, "features"), _as_2d(targets, "targets")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"features and targets need the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    if x.shape[0] < 2:
        raise ValueError("need at least 2 samples to fit a probe")
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - x_mean, y - y_mean
    gram = xc.T @ xc + ridge * x.shape[0] * np.eye(x.shape[1])
    weights = np.linalg.lstsq(gram, xc.T @ yc, rcond=None)[0]
    return LinearProbe(weights, y_mean - x_mean @ weights)


def r2_score(predictions, targets) -> np.ndarray:
    """Coefficient of determination per target dimension: (M, P) pairs -> (P,). 1 is perfect, 0 is no
    better than predicting the mean, negative is worse."""
    p, y = _as_2d(predictions, "predictions"), _as_2d(targets, "targets")
    if p.shape != y.shape:
        raise ValueError(f"predictions {p.shape} and targets {y.shape} must have the same shape")
    sse = ((p - y) ** 2).sum(axis=0)
    sst = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    return 1.0 - sse / np.where(sst > 0, sst, np.nan)


def probe_r2(train_features, train_targets, test_features, test_targets, ridge: float = 1e-6) -> np.ndarray:
    """Fit on the training pairs and return R^2 per dimension on the test pairs."""
    probe = fit_linear_probe(train_features, train_targets, ridge)
    return r2_score(probe.predict(test_features), test_targets)
