"""The course's one training loop: AdamW, linear warm-up then cosine learning-rate decay, gradient
clipping, a progress bar and a loss history for plotting. Every model of the course trains with it.

The loop knows nothing about the model: you pass `loss_fn(model, batch) -> scalar tensor` and
`next_batch(generator) -> batch`, which draws a batch with the loop's seeded generator.
`batch_sampler` builds the latter from tensors: random rows, or random windows of consecutive steps.

`train` reads top to bottom as chapter 2 writes it. What the command line adds (a device, mixed
precision, several processes, checkpoints, resuming) lives in worldmodels.scaling: `train` passes those
keyword options to a scaling.Run, which it calls at a few named points and which does nothing without them.
"""

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .progress import progress_bar
from .scaling import Run


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

    def with_steps(self, steps: int) -> "TrainConfig":
        """The same schedule over `steps` steps, the warm-up shortened to at most half of them."""
        return dataclasses.replace(self, steps=steps, warmup_steps=min(self.warmup_steps, steps // 2))


@dataclass
class History:
    """Losses recorded during training: every step for train, every eval_every steps for val."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0  # wall-clock time of the loop


def run_facts(history: History, cpu_seconds: float, model: torch.nn.Module) -> dict:
    """What a benchmark records about a training run besides its metrics: wall and CPU seconds, the machine's
    1-minute load average when it ended (a busy machine stretches the wall time), torch's thread count, the
    parameter count and the mean loss of the last 50 steps."""
    import os

    return {
        "train_seconds": round(history.seconds, 1),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "torch_threads": torch.get_num_threads(),
        "params": n_parameters(model),
        "final_train_loss": round(float(sum(history.train_loss[-50:]) / len(history.train_loss[-50:])), 3),
    }


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay from lr to lr * min_lr_fraction."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps - 1)
    floor = config.lr * config.min_lr_fraction
    return floor + 0.5 * (config.lr - floor) * (1 + math.cos(math.pi * min(1.0, progress)))


def batch_sampler(*tensors: torch.Tensor, batch_size: int, window: int | None = None) -> Callable[[torch.Generator], tuple]:
    """Return next_batch(generator) drawing `batch_size` random rows (with replacement) of the tensors.

    With `window=L` the tensors are sequences (N, T, ...) and each draw is a window of L consecutive
    steps of one row, the same rows and steps in every tensor: (batch_size, L, ...).
    """
    if not tensors:
        raise ValueError("pass at least one tensor")
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        raise ValueError(f"tensors must share their first dimension, got {[t.shape[0] for t in tensors]}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if window is not None:
        if any(t.ndim < 2 or t.shape[1] != tensors[0].shape[1] for t in tensors):
            raise ValueError(f"windows need sequences (N, T, ...) of one length T, got {[tuple(t.shape) for t in tensors]}")
        if not 1 <= window <= tensors[0].shape[1]:
            raise ValueError(f"window must be in 1..{tensors[0].shape[1]} (the sequence length), got {window}")
        offsets = torch.arange(window)

    def next_batch(generator: torch.Generator) -> tuple:
        rows = torch.randint(0, n, (batch_size,), generator=generator)
        if window is None:
            return tuple(t[rows] for t in tensors)
        start = torch.randint(0, tensors[0].shape[1] - window + 1, (batch_size,), generator=generator)
        steps = start[:, None] + offsets
        return tuple(t[rows[:, None], steps] for t in tensors)

    return next_batch


def shard_rows(batch_size: int, shard: tuple[int, int]) -> slice:
    """The contiguous rows of a global batch that rank `shard[0]` of `shard[1]` keeps (data parallelism:
    every rank draws the whole batch with the same generator, then keeps batch_size // world_size rows)."""
    rank, world_size = shard
    if not 0 <= rank < world_size or batch_size % world_size:
        raise ValueError(f"shard must be (rank, world_size) with 0 <= rank < world_size and world_size dividing "
                         f"batch_size ({batch_size}), got {shard}")
    part = batch_size // world_size
    return slice(rank * part, (rank + 1) * part)


@torch.no_grad()
def validation_loss(model: torch.nn.Module, loss_fn: Callable, batch: Any) -> float:
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
    **scaling,
) -> History:
    """Train `model` in place for config.steps steps; return the loss history.

    Deterministic for a given model initialisation, config.seed and thread count: the batches come
    from one torch.Generator seeded with config.seed. The progress bar shows the loss every
    eval_every steps (and the validation loss when `val_batch` is given).

    `scaling`: the command line's options (device, mixed_precision, ddp, resume, checkpoint,
    checkpoint_every, elapsed), handled by a worldmodels.scaling.Run; without them it does nothing.
    """
    run = Run(model, loss_fn, **scaling)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history = History()
    first = run.start(optimizer, generator, history, config.steps)  # 0 unless resuming
    model.train()
    bar = progress_bar(range(first, config.steps), desc=desc, disable=not progress)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        loss = run.loss(next_batch(generator))  # loss_fn(model, batch)
        if not torch.isfinite(loss):
            raise ValueError(f"loss became {loss.item()} at step {step}; lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        history.steps.append(step)
        history.train_loss.append(run.mean_over_ranks(loss))  # loss.item() in one process
        if step % config.eval_every == 0 or step == config.steps - 1:
            postfix = {"train": f"{history.train_loss[-1]:.3f}"}
            if val_batch is not None:
                history.val_steps.append(step)
                history.val_loss.append(validation_loss(model, loss_fn, run.on_device(val_batch)))
                postfix["val"] = f"{history.val_loss[-1]:.3f}"
            bar.set_postfix(**postfix)
        run.save_if_due(step + 1)
    bar.close()
    history.seconds = run.seconds()
    return history
