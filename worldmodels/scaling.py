"""What the command line adds to the course's training loop: a device, mixed precision, several
processes (DDP), checkpoints and resuming. `worldmodels.training.train` accepts these options as keywords
and hands them to a `Run`; without them a Run does nothing, and the loop is the plain one of chapter 2.

The loop calls a Run at a few named points:

    run = Run(model, loss_fn, **options)        # moves the model to the device
    first = run.start(optimizer, generator, history, steps)   # resumes, wraps the model in DDP
    loss = run.loss(batch)                      # batch to the device, autocast, DDP's forward
    run.mean_over_ranks(loss)                   # what the History records: loss.item() in one process
    run.on_device(val_batch)                    # the validation batch where the model is
    run.save_if_due(step + 1)                   # a checkpoint every checkpoint_every steps and at the end
    history.seconds = run.seconds()             # earlier stages and the resumed part included

Options (all off by default; worldmodels.train sets them):
- `device`: move the model there and every batch as it is drawn (the generator stays on the CPU).
- `mixed_precision`: run the loss under bfloat16 autocast on the model's device (meant for GPUs).
- `ddp`: torch.distributed is initialised; wrap model + loss in DistributedDataParallel, which averages
  the gradients of all ranks in backward. Every rank draws with the same seeded generator, so `next_batch`
  must return this rank's share of one global batch (training.shard_rows). The recorded loss is the
  mean over ranks.
- `checkpoint(state)` is called every `checkpoint_every` steps and after the last one, with a dict
  {step, model, optimizer, generator, history} of the state after `step` steps (a copy, safe to keep);
  `resume=state` continues from it and gives the same result as the uninterrupted run.
- `elapsed`: seconds the run already spent before this call (an earlier stage of a model trained in
  stages); History.seconds and the checkpoints count them. A resumed run takes them from `resume`.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any, Callable

import torch


def to_device(batch: Any, device: torch.device) -> Any:
    """Move a batch (a tensor, or tuples/lists/dicts of them) to `device`; other values pass unchanged."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


class LossModule(torch.nn.Module):
    """model + loss_fn as one module whose forward(batch) is the loss: what DistributedDataParallel wraps,
    so that its gradient all-reduce runs whatever methods loss_fn calls on the model."""

    def __init__(self, model: torch.nn.Module, loss_fn: Callable):
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, batch):
        return self.loss_fn(self.model, batch)


class Run:
    """The scaling options of one call of training.train (see the module docstring)."""

    def __init__(self, model: torch.nn.Module, loss_fn: Callable, *, device: str | torch.device | None = None,
                 mixed_precision: bool = False, ddp: bool = False, resume: dict | None = None,
                 checkpoint: Callable[[dict], None] | None = None, checkpoint_every: int = 0, elapsed: float = 0.0):
        if checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {checkpoint_every}")
        self.started = time.perf_counter()
        if device is not None:
            model.to(torch.device(device))
        self.device = next(iter(model.parameters()), torch.empty(0)).device
        self.model, self.forward = model, LossModule(model, loss_fn)
        self.mixed_precision, self.ddp, self.resume = mixed_precision, ddp, resume
        self.checkpoint, self.checkpoint_every = checkpoint, checkpoint_every
        self.spent, self.world_size = elapsed, 1  # seconds before this call; processes

    def start(self, optimizer: torch.optim.Optimizer, generator: torch.Generator, history, steps: int) -> int:
        """Load the resumed state into the model, optimizer, generator and history (a training.History),
        wrap the model in DDP if asked; return the first step to run (0 unless resuming)."""
        self.optimizer, self.generator, self.history, self.steps = optimizer, generator, history, steps
        first = 0
        if self.resume is not None:
            if not 0 <= self.resume["step"] <= steps:
                raise ValueError(f"cannot resume at step {self.resume['step']} a run of {steps} steps")
            self.model.load_state_dict(self.resume["model"])
            optimizer.load_state_dict(self.resume["optimizer"])
            generator.set_state(self.resume["generator"])
            vars(history).update(self.resume["history"])
            first, self.spent = self.resume["step"], history.seconds
        if self.ddp:
            import torch.distributed as dist

            if not dist.is_initialized():
                raise ValueError("ddp=True needs torch.distributed initialised (launch with torchrun; see worldmodels.train)")
            self.world_size = dist.get_world_size()
            self.forward = torch.nn.parallel.DistributedDataParallel(
                self.forward, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        return first

    def on_device(self, batch: Any) -> Any:
        """The batch on the model's device."""
        return to_device(batch, self.device)

    def loss(self, batch: Any) -> torch.Tensor:
        """loss_fn(model, batch) with the batch on the model's device, under autocast if asked, through DDP."""
        if self.device.type != "cpu":
            batch = self.on_device(batch)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.mixed_precision):
            return self.forward(batch)

    def mean_over_ranks(self, loss: torch.Tensor) -> float:
        """The loss of the global batch: the mean of the ranks' losses (this rank's loss without DDP)."""
        if self.world_size > 1:
            loss = loss.detach().clone()
            torch.distributed.all_reduce(loss)
            loss /= self.world_size
        return loss.item()

    def seconds(self) -> float:
        """Wall-clock seconds of the run so far, earlier stages and the resumed part included."""
        return self.spent + time.perf_counter() - self.started

    def save_if_due(self, done: int) -> None:
        """After `done` steps: hand a copy of the state to `checkpoint` every checkpoint_every steps and at the end."""
        if self.checkpoint is None:
            return
        if (self.checkpoint_every and done % self.checkpoint_every == 0) or done == self.steps:
            self.history.seconds = self.seconds()
            self.checkpoint(copy.deepcopy({"step": done, "model": self.model.state_dict(),
                                           "optimizer": self.optimizer.state_dict(),
                                           "generator": self.generator.get_state(),
                                           "history": dataclasses.asdict(self.history)}))
