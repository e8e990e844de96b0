"""Reproducibility: one call that makes a notebook or benchmark deterministic.

The stored outputs of every notebook are checked against a fresh run (nbval),
so seeds *and* the number of CPU threads are fixed: float sums over a different
number of threads round differently.
"""

import os
import random

import numpy as np
import torch

DEFAULT_THREADS = 2


def seed_everything(seed: int = 0, threads: int = DEFAULT_THREADS) -> np.random.Generator:
    """Seed Python, NumPy and PyTorch, fix torch's thread count; return a NumPy Generator."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(min(threads, os.cpu_count() or 1))
    return np.random.default_rng(seed)
