"""Spacetime patches: cut a latent video (C, T, H, W) into blocks of pt x ph x pw and flatten each block
into one token, the way Sora turns a compressed video into a sequence a transformer can read.

    latent (B, C, T, H, W) --patchify((pt, ph, pw))--> tokens (B, N, pt*ph*pw*C),
    N = (T/pt) * (H/ph) * (W/pw), ordered time-major (all patches of the first time slab first).

`unpatchify` is the exact inverse. A longer clip only makes N larger; the token size stays the same,
which is why one transformer can read clips of different lengths and shapes.
"""

from __future__ import annotations

import torch


def _check_patch(patch) -> tuple[int, int, int]:
    if len(patch) != 3 or any(int(p) != p or p < 1 for p in patch):
        raise ValueError(f"patch must be three positive integers (pt, ph, pw), got {patch}")
    return tuple(int(p) for p in patch)


def patchify(latent: torch.Tensor, patch=(1, 1, 1)) -> torch.Tensor:
    """Latent video (B, C, T, H, W) -> tokens (B, N, pt*ph*pw*C). T, H, W must be multiples of the patch."""
    pt, ph, pw = _check_patch(patch)
    if latent.ndim != 5:
        raise ValueError(f"latent must have shape (B, C, T, H, W), got {tuple(latent.shape)}")
    b, c, t, h, w = latent.shape
    if t % pt or h % ph or w % pw:
        raise ValueError(f"the grid (T, H, W) = {(t, h, w)} must be divisible by the patch {(pt, ph, pw)}")
    x = latent.reshape(b, c, t // pt, pt, h // ph, ph, w // pw, pw)
    x = x.permute(0, 2, 4, 6, 3, 5, 7, 1)  # (B, T', H', W', pt, ph, pw, C)
    return x.reshape(b, (t // pt) * (h // ph) * (w // pw), pt * ph * pw * c)


def unpatchify(tokens: torch.Tensor, grid, patch=(1, 1, 1), channels: int | None = None) -> torch.Tensor:
    """Tokens (B, N, pt*ph*pw*C) -> latent video (B, C, T, H, W); grid = (T, H, W) of the latent."""
    pt, ph, pw = _check_patch(patch)
    if tokens.ndim != 3:
        raise ValueError(f"tokens must have shape (B, N, D), got {tuple(tokens.shape)}")
    t, h, w = grid
    if t % pt or h % ph or w % pw:
        raise ValueError(f"the grid (T, H, W) = {(t, h, w)} must be divisible by the patch {(pt, ph, pw)}")
    n = (t // pt) * (h // ph) * (w // pw)
    b, n_tokens, d = tokens.shape
    if n_tokens != n or d % (pt * ph * pw):
        raise ValueError(f"tokens {tuple(tokens.shape)} do not fit grid {tuple(grid)} with patch {(pt, ph, pw)}: "
                         f"expected N = {n} and D a multiple of {pt * ph * pw}")
    c = d // (pt * ph * pw)
    if channels is not None and channels != c:
        raise ValueError(f"tokens carry {c} channels, expected {channels}")
    x = tokens.reshape(b, t // pt, h // ph, w // pw, pt, ph, pw, c)
    x = x.permute(0, 7, 1, 4, 2, 5, 3, 6)  # (B, C, T', pt, H', ph, W', pw)
    return x.reshape(b, c, t, h, w)
