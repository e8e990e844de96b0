"""One training entry point for the course's models: one process, or many with DistributedDataParallel.

    python -m worldmodels.train world_model                         # the chapter-5 recipe, device auto
    python -m worldmodels.train world_model --steps 200 --out runs/wm
    python -m worldmodels.train world_model --out runs/wm --resume  # continue from runs/wm/checkpoint.pt
    python -m worldmodels.train world_model --config big --device cuda --out runs/big   # 64x64, 3-6 balls
    torchrun --nproc-per-node 2 -m worldmodels.train world_model --out runs/ddp          # 2 processes
    torchrun --nnodes 2 --node-rank R --master-addr HOST --master-port 29500 \\
             --nproc-per-node 8 -m worldmodels.train world_model --config big      # 2 machines x 8 GPUs
    python -m worldmodels.train next_frame --steps 100                  # chapter 4's next-frame predictor
    python -m worldmodels.train object_model --steps 100                # chapter 7's object model
    python -m worldmodels.train diffusion --steps 400 --out runs/t2v    # chapter 9's text-to-video model

The models are those of worldmodels.registry: each entry gives its presets and its train function
train(config, *, steps, shard, progress, **hooks) -> (model, History), which trains through
worldmodels.training.train, passes the hooks (device, mixed_precision, ddp, resume, checkpoint,
checkpoint_every) on and draws only its shard (rank, world_size) of every global batch.

Under torchrun every process (rank) builds the same model, draws the same global batch from the same
seeded generator and keeps only its own contiguous slice (batch_size / world_size windows), and
DistributedDataParallel averages the gradients in backward: the update is the one a single process
would make with the whole batch, up to floating-point summation order. Backend: NCCL on GPUs, gloo on
CPUs. Rank 0 alone writes `--out`: checkpoint.pt (everything needed to resume: weights, optimizer,
generator, history, config; every --checkpoint-every steps and at the end), model.pt (the trained
weights in the registry's checkpoint format, float32: `registry.load(model, path)`) and run.json (a summary).

`--config` is a preset name (the model's presets, e.g. world_model: `chapter5`, `big`, `tiny`) or a JSON
file: a run record (as in worldmodels/checkpoints/world_model.json: its config keys retrain that run) or
any part of a config, on top of the preset named by its "base" key (default: the model's first preset).
On a GPU the loss runs under bfloat16 autocast (mixed precision); `--no-mixed-precision` turns it off.

`--steps N` stretches the schedule (registry.stretch): a model trained in stages (the next-frame
predictor, the object model's renderer then dynamics, the diffusion model's compression network then
denoiser) gives each stage its share of N, at least 1 step each; the History, checkpoints and `--resume`
cover the last stage.

`run_command(...)` runs this command line in a fresh process (or under torchrun) and returns its JSON
summary: what the appendix, bench/scaling.py and the tests use.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from . import registry
from .registry import merge_config

MODELS = registry.MODELS  # name -> registry.ModelSpec (its presets(), train, ...)


def load_config(model: str, config: str | None) -> dict:
    """A preset name, or a JSON file (partial configs extend the preset named by its "base" key)."""
    presets = registry.get(model).presets()
    default = next(iter(presets))
    if config is None:
        return presets[default]
    if config in presets:
        return presets[config]
    path = Path(config)
    if not path.is_file():
        raise ValueError(f"--config must be a preset ({', '.join(presets)}) or a JSON file; {config!r} is neither")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"--config {config} is not valid JSON: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"--config {config} must hold a JSON object, got {type(values).__name__}")
    base = values.pop("base", default)
    if base not in presets:
        raise ValueError(f"--config {config}: base must be one of {', '.join(presets)}, got {base!r}")
    keys = set(presets[base])
    values = {k: v for k, v in values.items() if k in keys}  # a run record's other keys (metrics, ...) are ignored
    return merge_config(presets[base], values)


# ------------------------------------------------------------------------------------- processes, devices


def pick_device(name: str | None) -> torch.device:
    """'cpu', 'cuda' or 'mps'; None picks the best available. Under torchrun each rank takes GPU LOCAL_RANK."""
    if name is None:
        name = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device must be cpu, cuda or mps, got {name!r}")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda: no CUDA GPU is available here; use --device cpu")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("--device mps: Apple's Metal backend is not available here; use --device cpu")
    return torch.device(name)


def start_processes(device: torch.device) -> tuple[int, int]:
    """(rank, world_size); joins the process group when launched by torchrun with more than one process."""
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    if world_size == 1:
        return 0, 1
    import torch.distributed as dist

    if device.type == "cuda":
        torch.cuda.set_device(device)
    if device.type == "mps":
        raise ValueError("several processes on mps are not supported by torch.distributed; use one process")
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world_size


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Interrupted(Exception):
    """Raised by --stop-after: the run stops as if the machine had gone away after a checkpoint."""


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m worldmodels.train", description=__doc__.splitlines()[0])
    parser.add_argument("model", help=f"one of: {', '.join(MODELS)}")
    parser.add_argument("--config", help="one of the model's presets (world_model: chapter5, big, tiny; every model: "
                                         "its chapter's preset and tiny) or a JSON file (a run record, or part of a config)")
    parser.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--steps", type=int, help="train this many steps (the schedule is stretched to fit)")
    parser.add_argument("--out", help="folder for checkpoint.pt, model.pt and run.json (default .runs/<model>, ignored by git)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    parser.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints (default 100)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per process on CPU (default 2)")
    parser.add_argument("--no-mixed-precision", action="store_true", help="keep float32 on a GPU")
    parser.add_argument("--progress", action="store_true", help="show a progress bar (rank 0)")
    parser.add_argument("--stop-after", type=int, help=argparse.SUPPRESS)  # tests: simulate an interruption
    args = parser.parse_args(argv)
    if args.model not in MODELS:
        parser.error(f"unknown model {args.model!r}; choose one of: {', '.join(MODELS)}")
    if args.checkpoint_every < 1:
        parser.error(f"--checkpoint-every must be >= 1, got {args.checkpoint_every}")
    try:
        config = load_config(args.model, args.config)
        device = pick_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    out = Path(args.out or Path(".runs") / args.model)
    ckpt_path = out / "checkpoint.pt"
    resume = None
    if args.resume:
        if not ckpt_path.is_file():
            parser.error(f"--resume: no checkpoint at {ckpt_path}")
        resume = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if resume["config"] != config or resume["steps_arg"] != args.steps:
            parser.error(f"--resume: {ckpt_path} was written by a run with another --config or --steps")

    from .repro import seed_everything

    seed_everything(_seed(config), threads=args.threads)
    rank, world_size = start_processes(device)
    mixed = device.type == "cuda" and not args.no_mixed_precision

    def checkpoint(state: dict) -> None:
        if rank == 0:
            out.mkdir(parents=True, exist_ok=True)
            _save_atomic({**state, "config": config, "steps_arg": args.steps, "model_name": args.model}, ckpt_path)
        if args.stop_after is not None and state["step"] >= args.stop_after:
            raise Interrupted(state["step"])

    every = args.checkpoint_every if args.stop_after is None else min(args.checkpoint_every, args.stop_after)
    start = time.perf_counter()
    try:
        model, history = MODELS[args.model].train(
            config, steps=args.steps, shard=(rank, world_size), progress=args.progress and rank == 0,
            device=device, mixed_precision=mixed, ddp=world_size > 1, resume=resume,
            checkpoint=checkpoint, checkpoint_every=every)
    except Interrupted as stop:
        summary = {"model": args.model, "interrupted_at_step": stop.args[0], "checkpoint": str(ckpt_path)}
        if rank == 0:
            print(json.dumps(summary))
        _finish(world_size)
        return summary
    seconds = time.perf_counter() - start
    done = len(history.steps) - (resume["step"] if resume else 0)
    loop_seconds = history.seconds - (resume["history"]["seconds"] if resume else 0.0)  # the training loop alone
    summary = {"model": args.model, "device": str(device), "world_size": world_size, "mixed_precision": mixed,
               "steps": len(history.steps), "steps_this_run": done, "seconds": round(seconds, 2),
               "loop_seconds": round(loop_seconds, 2), "steps_per_s": round(done / loop_seconds, 3),
               "final_train_loss": round(history.train_loss[-1], 4),
               "resumed_from": resume["step"] if resume else None, "out": str(out)}
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / "model.pt.tmp"
        registry.save(args.model, model, tmp, dtype=torch.float32)  # float32: runs are compared weight by weight
        os.replace(tmp, out / "model.pt")
        (out / "run.json").write_text(json.dumps({**summary, "config": config}, indent=2) + "\n")
        print(json.dumps(summary))
    _finish(world_size)
    return summary


def _seed(config: dict) -> int:
    """The seed of a config's recipe: that of its first stage (its first TrainConfig, a nested dict; the first
    recipe's for a list of recipes)."""
    recipe = config.get("recipe", {})
    recipe = recipe[0] if isinstance(recipe, list) else recipe
    return next((value for value in recipe.values() if isinstance(value, dict)), {}).get("seed", 0)


def _finish(world_size: int) -> None:
    if world_size > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


# ------------------------------------------------------------------------------ from another program


def process_env(passive: bool = False, **extra: str) -> dict:
    """The environment of a measured subprocess: this one's, with OpenMP's default waiting (threads spin a
    little before sleeping) or OMP_WAIT_POLICY=PASSIVE (they sleep at once), plus `extra` variables."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    return {**env, **({"OMP_WAIT_POLICY": "PASSIVE"} if passive else {}), **extra}


def run_command(model: str, *args: str, out, processes: int = 1, threads: int = 1, passive: bool = False,
                timeout: float = 1800, cwd=None) -> dict:
    """Run `python -m worldmodels.train MODEL --device cpu --threads T --out OUT ARGS` in a fresh process
    (under torchrun with gloo when processes > 1) and return its JSON summary, the last line it prints.

    The environment: OMP_NUM_THREADS=threads and OpenMP's default waiting (threads spin briefly before
    sleeping), or OMP_WAIT_POLICY=PASSIVE with passive=True (sleep at once: for parallel jobs sharing the
    cores). The policy changes only the speed. A failed run raises RuntimeError with the end of its stderr."""
    launcher = [sys.executable] if processes == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                         "--nproc-per-node", str(processes)]
    cmd = launcher + ["-m", "worldmodels.train", model, "--device", "cpu", "--threads", str(threads), "--out", str(out),
                      *map(str, args)]
    done = subprocess.run(cmd, env=process_env(passive, OMP_NUM_THREADS=str(threads)), capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def saved_weights(out) -> dict[str, torch.Tensor]:
    """The weights a run saved in OUT/model.pt."""
    return registry.read_checkpoint(Path(out) / "model.pt")["state_dict"]


def max_weight_difference(a, b) -> float:
    """The largest |difference| between the weights two runs saved (their --out folders)."""
    wa, wb = saved_weights(a), saved_weights(b)
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
