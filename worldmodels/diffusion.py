"""A small diffusion transformer (DiT) over spacetime-latent tokens, trained by rectified flow.

Rectified flow / flow matching (Liu et al. 2023; Lipman et al. 2023) joins a clean latent x0 and pure
noise e by a straight line, x_t = (1 - t) x0 + t e, t in [0, 1] (t = 0 clean, t = 1 noise). A model that
knows the clean end of the line from any point on it can walk the line back from noise to data. Here the
model predicts the clean latent x0 itself (the probes found this gives sharper samples than predicting
the velocity e - x0); the velocity follows from it, v = (x_t - x0_hat) / t.

The transformer (Peebles & Xie 2023) reads the tokens; every block is conditioned on the noise level t and
on the prompt through adaLN-Zero: the conditioning vector sets a scale, a shift and a gate for each layer
norm, and the gates start at zero so every block starts as the identity.

Classifier-free guidance (Ho & Salimans 2022): the same network is trained with the prompt dropped
now and then (the empty prompt), and sampling pushes the conditional prediction away from the
unconditional one, x0 = x0_uncond + w (x0_cond - x0_uncond).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .validation import check_horizon


@dataclass(frozen=True)
class DiTConfig:
    n_tokens: int = 4  # tokens per clip
    token_dim: int = 8  # numbers per token
    vocab_size: int = 20  # caption words (captions.VOCAB)
    max_words: int = 14
    width: int = 96
    depth: int = 3
    heads: int = 4

    def __post_init__(self):
        for name in ("n_tokens", "token_dim", "vocab_size", "max_words", "width", "depth", "heads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must be divisible by heads {self.heads}")


def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The point at time t (B,) on the straight line from the clean latent x0 (t = 0) to the noise (t = 1)."""
    if x0.shape != noise.shape:
        raise ValueError(f"x0 {tuple(x0.shape)} and noise {tuple(noise.shape)} must have the same shape")
    if t.ndim != 1 or t.shape[0] != x0.shape[0]:
        raise ValueError(f"t must have shape (B,) = ({x0.shape[0]},), got {tuple(t.shape)}")
    t = t.view(-1, *([1] * (x0.ndim - 1)))
    return (1 - t) * x0 + t * noise


def euler_step(x_t: torch.Tensor, x0_hat: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    """One step of the sampler from time t to t_next < t along the predicted straight line: the line
    through x_t and the predicted clean latent x0_hat, x_next = x0_hat + (t_next / t) (x_t - x0_hat)."""
    if not 0 <= t_next < t <= 1:
        raise ValueError(f"need 0 <= t_next < t <= 1, got t={t}, t_next={t_next}")
    return x0_hat + (t_next / t) * (x_t - x0_hat)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features (B, dim) of noise levels t (B,) in [0, 1]."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = 1000.0 * t[:, None].float() * freqs[None] / 10
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class TextEncoder(nn.Module):
    """Word ids (B, L) (0 pads) -> one vector (B, width): the mean of the word embeddings plus an MLP.
    The empty prompt (all pads) maps to a learned "no prompt" vector."""

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.width, padding_idx=0)
        self.empty = nn.Parameter(torch.zeros(config.width))
        self.mlp = nn.Sequential(nn.Linear(config.width, config.width), nn.GELU(), nn.Linear(config.width, config.width))

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        mask = (words > 0).float()[..., None]
        n = mask.sum(1)
        mean = (self.embed(words) * mask).sum(1) / n.clamp_min(1)
        mean = torch.where(n > 0, mean, self.empty.expand_as(mean))
        return self.mlp(mean)


class Block(nn.Module):
    """Attention and MLP, each behind a layer norm modulated by the conditioning (adaLN-Zero)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.modulation = nn.Linear(width, 6 * width)
        nn.init.zeros_(self.modulation.weight)  # zero gates: the block starts as the identity
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """mask (tokens, tokens) bool, optional: True where a token (row) may not attend to another (column)."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(nn.functional.silu(cond))[:, None].chunk(6, dim=-1)
        h = self.norm1(x) * (1 + scale1) + shift1
        x = x + gate1 * self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h)


class DiT(nn.Module):
    """Noisy tokens (B, N, token_dim), noise levels (B,), word ids (B, L) -> predicted clean tokens."""

    def __init__(self, config: DiTConfig = DiTConfig()):
        super().__init__()
        self.config = c = config
        self.text = TextEncoder(c)
        self.time = nn.Sequential(nn.Linear(c.width, c.width), nn.GELU(), nn.Linear(c.width, c.width))
        self.inp = nn.Linear(c.token_dim, c.width)
        self.pos = nn.Parameter(torch.randn(c.n_tokens, c.width) * 0.02)
        self.blocks = nn.ModuleList([Block(c.width, c.heads) for _ in range(c.depth)])
        self.norm = nn.LayerNorm(c.width, elementwise_affine=False)
        self.final_modulation = nn.Linear(c.width, 2 * c.width)
        self.out = nn.Linear(c.width, c.token_dim)
        nn.init.zeros_(self.final_modulation.weight)
        nn.init.zeros_(self.final_modulation.bias)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        c = self.config
        if x_t.ndim != 3 or tuple(x_t.shape[1:]) != (c.n_tokens, c.token_dim):
            raise ValueError(f"x_t must have shape (B, {c.n_tokens}, {c.token_dim}), got {tuple(x_t.shape)}")
        if t.shape != (x_t.shape[0],) or words.ndim != 2 or words.shape[0] != x_t.shape[0]:
            raise ValueError(f"t must be (B,) and words (B, L) for B = {x_t.shape[0]}, got {tuple(t.shape)}, {tuple(words.shape)}")
        cond = self.time(timestep_embedding(t, c.width)) + self.text(words)
        h = self.inp(x_t) + self.pos
        for block in self.blocks:
            h = block(h, cond)
        shift, scale = self.final_modulation(nn.functional.silu(cond))[:, None].chunk(2, dim=-1)
        return self.out(self.norm(h) * (1 + scale) + shift)


def flow_matching_loss(model: DiT, batch) -> torch.Tensor:
    """Clean-latent prediction along the rectified-flow line. batch = (x0 (B, N, D), words (B, L),
    t (B,), noise (B, N, D)): t and noise are drawn by the batch sampler so that training is seeded."""
    x0, words, t, noise = batch
    return ((model(interpolate(x0, noise, t), t, words) - x0) ** 2).mean()


@torch.no_grad()
def sample(model: DiT, words: torch.Tensor, n_steps: int = 24, guidance: float = 3.0, generator=None,
           noise: torch.Tensor | None = None, return_path: bool = False):
    """Draw clean latents (B, N, D) for prompts `words` (B, L): start from noise at t = 1 and take n_steps
    Euler steps of the straight-line sampler to t = 0, with classifier-free guidance `guidance` (1 = none).
    return_path=True also returns the latent after every step (n_steps + 1, B, N, D)."""
    c = model.config
    n_steps = check_horizon(n_steps, "n_steps")
    b = words.shape[0]
    if words.ndim != 2 or b == 0:
        raise ValueError(f"words must be word ids (B, L) of at least one prompt (captions.tokenize), got {tuple(words.shape)}")
    x = torch.randn(b, c.n_tokens, c.token_dim, generator=generator) if noise is None else noise.clone()
    times = torch.linspace(1, 0, n_steps + 1).tolist()
    empty = torch.zeros_like(words)
    path = [x]
    model.eval()
    for t, t_next in zip(times[:-1], times[1:]):
        tt = torch.full((b,), t)
        if guidance == 1.0:
            x0_hat = model(x, tt, words)
        else:
            both = model(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([words, empty]))
            cond, uncond = both[:b], both[b:]
            x0_hat = uncond + guidance * (cond - uncond)
        x = euler_step(x, x0_hat, t, t_next)
        path.append(x)
    return (x, torch.stack(path)) if return_path else x
