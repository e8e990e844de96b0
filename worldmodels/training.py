"""A small, generic training loop: AdamW, cosine learning-rate decay, gradient clipping,
a `tqdm.auto` progress bar and a loss history for plotting.

The loop knows nothing about the model: you pass `loss_fn(model, batch) -> scalar tensor` and
`next_batch(generator) -> batch`. `batch_sampler` builds the latter from tensors.
"""

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from tqdm.auto import tqdm



def n_parameters(model: torch.nn.Module) -> int:
    """Number of trainable numbers in a model."""
    return sum(p.numel() for p in model.parameters())


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    min_lr_fraction: float = 0.1  # cosine decay ends at lr * min_lr_fraction
    grad_clip: float | None = 1.0
    eval_every: int = 100
    seed: int = 0  # seeds the batch generator

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.eval_every < 1:
            raise ValueError(f"eval_every must be >= 1, got {self.eval_every}")
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"warmup_steps must be in [0, steps), got {self.warmup_steps}")
        if not 0 <= self.min_lr_fraction <= 1:
            raise ValueError(f"min_lr_fraction must be in [0, 1], got {self.min_lr_fraction}")


@dataclass
class History:
    """Losses recorded during training: every step for train, every eval_every steps for val."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay from lr to lr * min_lr_fraction."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps - 1)
    floor = config.lr * config.min_lr_fraction
    return floor + 0.5 * (config.lr - floor) * (1 + math.cos(math.pi * min(1.0, progress)))


def batch_sampler(*tensors: torch.Tensor, batch_size: int) -> Callable[[torch.Generator], tuple]:
    """Return next_batch(generator) drawing `batch_size` random rows (with replacement) of the tensors."""
    if not tensors:
        raise ValueError("pass at least one tensor")
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        raise ValueError(f"tensors must share their first dimension, got {[t.shape[0] for t in tensors]}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")

    def next_batch(generator: torch.Generator) -> tuple:
        rows = torch.randint(0, n, (batch_size,), generator=generator)
        return tuple(t[rows] for t in tensors)

    return next_batch


@torch.no_grad()
def evaluate(model: torch.nn.Module, loss_fn: Callable, batch: Any) -> float:
    """Loss on one (typically full held-out) batch in eval mode (dropout off)."""
    was_training = model.training
    model.eval()
    loss = float(loss_fn(model, batch))
    model.train(was_training)
    return loss


def train(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    next_batch: Callable[[torch.Generator], Any],
    config: TrainConfig,
    val_batch: Any = None,
    desc: str = "training",
    progress: bool = True,
) -> History:
    """Train `model` in place for config.steps steps; return the loss history."""
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history = History()
    model.train()
    bar = tqdm(range(config.steps), desc=desc, disable=not progress, mininterval=1.0)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        loss = loss_fn(model, next_batch(generator))
        if not torch.isfinite(loss):
            raise ValueError(f"loss became {loss.item()} at step {step}; lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        history.steps.append(step)
        history.train_loss.append(loss.item())
        if val_batch is not None and (step % config.eval_every == 0 or step == config.steps - 1):
            history.val_steps.append(step)
            history.val_loss.append(evaluate(model, loss_fn, val_batch))
            bar.set_postfix(train=f"{loss.item():.3f}", val=f"{history.val_loss[-1]:.3f}")
    return history
