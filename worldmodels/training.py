"""The course's one training loop: AdamW, linear warm-up then cosine learning-rate decay, gradient
clipping, a progress bar and a loss history for plotting. Every model of the course trains with it.

The loop knows nothing about the model: you pass `loss_fn(model, batch) -> scalar tensor` and
`next_batch(generator) -> batch`, which draws a batch with the loop's seeded generator.
`batch_sampler` builds the latter from tensors: random rows, or random windows of consecutive steps.
"""

import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .progress import progress_bar

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


class _LossModule(torch.nn.Module):
    """model + loss_fn as one module whose forward(batch) is the loss: what DistributedDataParallel wraps,
    so that its gradient all-reduce runs whatever methods loss_fn calls on the model."""

    def __init__(self, model: torch.nn.Module, loss_fn: Callable):
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, batch):
        return self.loss_fn(self.model, batch)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move a batch (a tensor, or tuples/lists/dicts of them) to `device`; other values pass unchanged."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def train(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    next_batch: Callable[[torch.Generator], Any],
    config: TrainConfig,
    val_batch: Any = None,
    desc: str = "training",
    progress: bool = True,
    *,
    device: str | torch.device | None = None,
    mixed_precision: bool = False,
    ddp: bool = False,
    resume: dict | None = None,
    checkpoint: Callable[[dict], None] | None = None,
    checkpoint_every: int = 0,
    elapsed: float = 0.0,
) -> History:
    """Train `model` in place for config.steps steps; return the loss history.

    Deterministic for a given model initialisation, config.seed and thread count: the batches come
    from one torch.Generator seeded with config.seed. The progress bar shows the loss every
    eval_every steps (and the validation loss when `val_batch` is given).

    Scaling hooks (all off by default; worldmodels.train uses them):
    - `device`: move the model there and every batch as it is drawn (the generator stays on the CPU).
    - `mixed_precision`: run the loss under bfloat16 autocast on the model's device (meant for GPUs).
    - `ddp`: torch.distributed is initialised; wrap model + loss in DistributedDataParallel, which
      averages the gradients of all ranks in backward. Every rank draws with the same seeded generator,
      so `next_batch` must return this rank's share of one global batch. The recorded loss is the mean
      over ranks.
    - `checkpoint(state)` is called every `checkpoint_every` steps and after the last one, with a dict
      {step, model, optimizer, generator, history} of the state after `step` steps (a copy, safe to keep); `resume=state`
      continues from it and gives the same result as the uninterrupted run.
    - `elapsed`: seconds the run already spent before this call (an earlier stage of a model trained in
      stages); History.seconds and the checkpoints count them. A resumed run takes them from `resume`.
    """
    if checkpoint_every < 0:
        raise ValueError(f"checkpoint_every must be >= 0, got {checkpoint_every}")
    start_time = time.perf_counter()
    if device is not None:
        device = torch.device(device)
        model.to(device)
    device = next(iter(model.parameters()), torch.empty(0)).device
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history, first = History(), 0
    spent = elapsed  # seconds before this call's loop
    if resume is not None:
        if not 0 <= resume["step"] <= config.steps:
            raise ValueError(f"cannot resume at step {resume['step']} a run of {config.steps} steps")
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        generator.set_state(resume["generator"])
        history, first = History(**resume["history"]), resume["step"]
        spent = history.seconds
    forward = _LossModule(model, loss_fn)
    world_size = 1
    if ddp:
        import torch.distributed as dist

        if not dist.is_initialized():
            raise ValueError("ddp=True needs torch.distributed initialised (launch with torchrun; see worldmodels.train)")
        world_size = dist.get_world_size()
        forward = torch.nn.parallel.DistributedDataParallel(
            forward, device_ids=[device.index] if device.type == "cuda" else None)
    model.train()
    bar = progress_bar(range(first, config.steps), desc=desc, disable=not progress)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        batch = next_batch(generator)
        if device.type != "cpu":
            batch = to_device(batch, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mixed_precision):
            loss = forward(batch)
        if not torch.isfinite(loss):
            raise ValueError(f"loss became {loss.item()} at step {step}; lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        if world_size > 1:  # record the global batch's loss: the mean of the ranks' losses
            loss = loss.detach().clone()
            torch.distributed.all_reduce(loss)
            loss /= world_size
        history.steps.append(step)
        history.train_loss.append(loss.item())
        if step % config.eval_every == 0 or step == config.steps - 1:
            postfix = {"train": f"{loss.item():.3f}"}
            if val_batch is not None:
                history.val_steps.append(step)
                history.val_loss.append(validation_loss(model, loss_fn, to_device(val_batch, device)))
                postfix["val"] = f"{history.val_loss[-1]:.3f}"
            bar.set_postfix(**postfix)
        done = step + 1
        if checkpoint is not None and ((checkpoint_every and done % checkpoint_every == 0) or done == config.steps):
            history.seconds = spent + time.perf_counter() - start_time
            checkpoint(copy.deepcopy({"step": done, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                      "generator": generator.get_state(), "history": dataclasses.asdict(history)}))
    bar.close()
    history.seconds = spent + time.perf_counter() - start_time
    return history
