"""Reproducibility: one call that makes a notebook or benchmark deterministic.

The stored outputs of every notebook are checked against a fresh run (nbval), so seeds are fixed
and torch uses 2 threads by default. Float32 training still rounds differently on another CPU or with
another thread count, which is why numbers that come from training are checked within a measured
tolerance (see tests/nbval_tolerance.py), not exactly. `OMP_NUM_THREADS`, when set, caps the thread
count: `OMP_NUM_THREADS=1` is how the checks emulate a one-core reader's machine.
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
    cap = os.environ.get("OMP_NUM_THREADS", "")
    if cap.isdigit() and int(cap) >= 1:
        threads = min(threads, int(cap))
    torch.set_num_threads(min(threads, os.cpu_count() or 1))
    return np.random.default_rng(seed)
