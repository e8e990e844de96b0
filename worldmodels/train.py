"""One training entry point for the course's models: one process, or many with DistributedDataParallel.

    python -m worldmodels.train world_model                         # the chapter-5 recipe, device auto
    python -m worldmodels.train world_model --steps 200 --out runs/wm
    python -m worldmodels.train world_model --out runs/wm --resume  # continue from runs/wm/checkpoint.pt
    python -m worldmodels.train world_model --config big --device cuda --out runs/big   # 64x64, 3-6 balls
    torchrun --nproc-per-node 2 -m worldmodels.train world_model --out runs/ddp          # 2 processes
    torchrun --nnodes 2 --node-rank R --master-addr HOST --master-port 29500 \\
             --nproc-per-node 8 -m worldmodels.train world_model --config big      # 2 machines x 8 GPUs
    python -m worldmodels.train object_model --steps 100                # chapter 7's object model
    python -m worldmodels.train diffusion --steps 400 --out runs/t2v    # chapter 9's text-to-video model

Under torchrun every process (rank) builds the same model, draws the same global batch from the same
seeded generator and keeps only its own contiguous slice (batch_size / world_size windows), and
DistributedDataParallel averages the gradients in backward: the update is the one a single process
would make with the whole batch, up to floating-point summation order. Backend: NCCL on GPUs, gloo on
CPUs. Rank 0 alone writes `--out`: checkpoint.pt (everything needed to resume: weights, optimizer,
generator, history, config; every --checkpoint-every steps and at the end), model.pt (the trained
weights, loadable with worldmodels.reference_run.load for the world model and with
worldmodels.video_generation.load for the diffusion model) and run.json (a summary).

`--config` is a preset name (world_model: `chapter5`, `big`, `tiny`; object_model: `chapter7`, `tiny`;
diffusion: `chapter9`, `tiny`) or a JSON file: the configs of a run ({"model_config": ..., "recipe": ...,
"world": ...}, as in worldmodels/checkpoints/world_model.json; for the diffusion model {"recipe": ...,
"dit_config": ..., "ae_config": ...}, as in worldmodels/checkpoints/video_diffusion.json), any of them
partial, on top of the preset named by its "base" key (default: the model's first preset). On a GPU the
loss runs under bfloat16 autocast (mixed precision); `--no-mixed-precision` turns it off.

The two-stage models count `--steps` over both stages, and their History, checkpoints and `--resume`
cover the second stage: the object model (renderer, then dynamics) and the diffusion model (the
compression network, then the denoiser on its frozen, normalised latents; `--steps N` gives the
compression network the preset's share of N, 1500 of 4000 for `chapter9`, at least 1 step each).

Adding a model is one entry in MODELS: its presets and a function
run(config, *, steps, shard, progress, **hooks) -> (model, History) that trains through
worldmodels.training.train, passing the hooks (device, mixed_precision, ddp, resume, checkpoint,
checkpoint_every) on and drawing only its shard (rank, world_size) of every global batch; and, if
model.pt needs its own format, save(model, path).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

# ------------------------------------------------------------------------------------------ the models


def _merge(base: dict, override: dict) -> dict:
    """Nested dict update: override's leaves replace base's."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _world_model_presets() -> dict[str, dict]:
    from .data import TRAIN_WORLD
    from .physics import WorldConfig
    from .world_model import WorldModelConfig
    from .world_model_training import TrainingRecipe, record_configs

    chapter5 = record_configs(WorldModelConfig(), TrainingRecipe(), TRAIN_WORLD)
    big = {  # meant for a GPU: 64x64 frames, 3 to 6 balls in one pool, a wider model, a bigger batch
        "model_config": dataclasses.asdict(WorldModelConfig(size=64, latent=64, enc_hidden=1024, dyn_hidden=512,
                                                            dec_hidden=1024, dec_layers=2)),
        "recipe": _merge(chapter5["recipe"], {"batch_size": 512, "pool_sequences": 16384, "optim": {"steps": 20000, "lr": 2e-3, "warmup_steps": 500}}),
        "world": dataclasses.asdict(WorldConfig(n_balls=6, radius=4.0, size=64, speed_ranges=((2.0, 4.0),), max_speed=6.0)),
        "min_balls": 3,  # the pool mixes 3 .. world.n_balls balls
    }
    tiny = {  # seconds on a CPU: the tests and the appendix's measurements
        "model_config": dataclasses.asdict(WorldModelConfig(latent=16, enc_hidden=64, dyn_hidden=64, dec_hidden=64)),
        "recipe": _merge(chapter5["recipe"], {"batch_size": 32, "rollout_steps": 6, "decoded_steps": 3,
                                              "pool_sequences": 256, "pool_frames": 16,
                                              "optim": {"steps": 40, "warmup_steps": 5, "eval_every": 10}}),
        "world": chapter5["world"],
    }
    return {"chapter5": chapter5, "big": big, "tiny": tiny}


def _mixed_ball_pool(world, recipe, min_balls: int):
    """A pool whose sequences hold min_balls .. world.n_balls balls (equal shares); missing balls sit far
    outside the frame, where they render as nothing and never collide."""
    from .world_model_training import simulate_pool

    counts = range(min_balls, world.n_balls + 1)
    share = -(-recipe.pool_sequences // len(counts))
    positions, actions = [], []
    for i, n in enumerate(counts):
        part = dataclasses.replace(recipe, pool_sequences=share,
                                   optim=dataclasses.replace(recipe.optim, seed=recipe.optim.seed * 1000 + i))
        pos, act = simulate_pool(dataclasses.replace(world, n_balls=n), part)
        far = torch.full(pos.shape[:2] + (world.n_balls - n, 2), -1e3)
        positions.append(torch.cat([pos, far], dim=2)), actions.append(act)
    return torch.cat(positions)[: recipe.pool_sequences], torch.cat(actions)[: recipe.pool_sequences]


def run_world_model(config: dict, *, steps: int | None, shard=(0, 1), progress: bool = True, **hooks):
    """Train chapter 5's world model (worldmodels.world_model_training) from a config dict."""
    from .world_model_training import configs_from_record, train_world_model

    model_config, recipe, world = configs_from_record(config)
    if steps is not None:
        recipe = dataclasses.replace(recipe, optim=_with_steps(recipe.optim, steps))
    pool = None
    if config.get("min_balls") is not None:
        if not 1 <= config["min_balls"] <= world.n_balls:
            raise ValueError(f"min_balls must be in 1..world.n_balls ({world.n_balls}), got {config['min_balls']}")
        pool = _mixed_ball_pool(world, recipe, config["min_balls"])
    return train_world_model(model_config, recipe, world, progress=progress, shard=shard, pool=pool, **hooks)


def _with_steps(optim, steps: int):
    """The same schedule over `steps` steps (the warm-up shortened if it would not fit)."""
    if steps < 1:
        raise ValueError(f"--steps must be >= 1, got {steps}")
    return optim.with_steps(steps)


def _object_model_presets() -> dict[str, dict]:
    from .data import THREE_BALLS
    from .object_training import OBJECT_RECIPE, RENDER_STEPS, record_configs
    from .objects import ObjectModelConfig

    chapter7 = {**record_configs(ObjectModelConfig(), OBJECT_RECIPE, THREE_BALLS), "render_steps": RENDER_STEPS}
    tiny = {  # seconds on a CPU: the tests
        "model_config": dataclasses.asdict(ObjectModelConfig(hidden=16, vel_hidden=8)),
        "recipe": _merge(chapter7["recipe"], {"batch_size": 8, "rollout_steps": 4, "decoded_steps": 4,
                                              "pool_sequences": 32, "pool_frames": 12,
                                              "optim": {"steps": 20, "warmup_steps": 2, "eval_every": 5}}),
        "world": chapter7["world"],
        "render_steps": 5,
    }
    return {"chapter7": chapter7, "tiny": tiny}


def run_object_model(config: dict, *, steps: int | None, shard=(0, 1), progress: bool = True, **hooks):
    """Train chapter 7's object model (worldmodels.object_training) from a config dict. It trains in two
    stages, the renderer (`render_steps` steps) then the dynamics (the rest); `steps` counts both (the
    renderer keeps at most half of them), checkpoints and the History count the dynamics stage."""
    from .object_training import RENDER_STEPS, configs_from_record, train_object_model

    model_config, recipe, world = configs_from_record(config)
    render_steps = config.get("render_steps", RENDER_STEPS)
    if steps is not None:
        if steps < 2:
            raise ValueError(f"--steps must be >= 2 for the object model (a renderer and a dynamics step), got {steps}")
        recipe = dataclasses.replace(recipe, optim=_with_steps(recipe.optim, steps))
        render_steps = min(render_steps, steps // 2)
    return train_object_model(model_config, recipe, world, progress=progress, render_steps=render_steps,
                              shard=shard, **hooks)


def _diffusion_presets() -> dict[str, dict]:
    from .diffusion import DiTConfig
    from .video_autoencoder import VideoAutoencoderConfig
    from .video_generation import RecipeConfig

    chapter9 = {  # the recorded reference run (worldmodels/checkpoints/video_diffusion.json); n_clips is in the recipe
        "recipe": dataclasses.asdict(RecipeConfig()),
        "dit_config": dataclasses.asdict(DiTConfig()),
        "ae_config": dataclasses.asdict(VideoAutoencoderConfig()),
    }
    tiny = {  # seconds on a CPU: the tests
        "recipe": _merge(chapter9["recipe"], {"n_clips": 64, "ae_steps": 10, "dit_steps": 10, "batch_size": 16,
                                              "warmup_steps": 2, "sample_steps": 4}),
        "dit_config": _merge(chapter9["dit_config"], {"width": 16, "depth": 1, "heads": 2}),
        "ae_config": _merge(chapter9["ae_config"], {"hidden": 32}),
    }
    return {"chapter9": chapter9, "tiny": tiny}


def _dataclass_from(cls, values: dict, name: str):
    """cls(**values), with a ValueError naming the keys cls does not have."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{name} has unknown keys {unknown}; known: {sorted(known)}")
    return cls(**values)


def run_diffusion(config: dict, *, steps: int | None, shard=(0, 1), progress: bool = True, **hooks):
    """Train chapter 9's text-to-video model (worldmodels.video_generation.train_generator) from a config
    dict {"recipe", "dit_config", "ae_config"}; returns (Generator, History). It trains in two stages, the
    compression network (recipe ae_steps), then the denoiser (dit_steps) on the frozen network's normalised
    latents. `steps` counts both: the compression network keeps its share of the recipe's steps
    (round(steps * ae_steps / (ae_steps + dit_steps)), at least 1, at most steps - 1), the denoiser the
    rest, and the warm-up is shortened to fit the shorter stage. The History, checkpoints and resume
    count the denoiser stage."""
    from .diffusion import DiTConfig
    from .video_autoencoder import VideoAutoencoderConfig
    from .video_generation import RecipeConfig, train_generator

    recipe = _dataclass_from(RecipeConfig, config["recipe"], "recipe")
    dit_config = _dataclass_from(DiTConfig, config["dit_config"], "dit_config")
    ae_config = _dataclass_from(VideoAutoencoderConfig, config["ae_config"], "ae_config")
    if steps is not None:
        recipe = _split_steps(recipe, steps)
    return train_generator(recipe, dit_config, ae_config, progress, shard=shard, **hooks)


def _split_steps(recipe, steps: int):
    """The diffusion recipe over `steps` steps in all: the compression network keeps its share of the
    recipe's steps (at least 1, at most steps - 1), the denoiser the rest; the warm-up fits the shorter stage."""
    if steps < 2:
        raise ValueError(f"--steps must be >= 2 for the diffusion model (an autoencoder and a denoiser step), got {steps}")
    ae_steps = min(max(1, round(steps * recipe.ae_steps / (recipe.ae_steps + recipe.dit_steps))), steps - 1)
    dit_steps = steps - ae_steps
    return dataclasses.replace(recipe, ae_steps=ae_steps, dit_steps=dit_steps,
                               warmup_steps=min(recipe.warmup_steps, min(ae_steps, dit_steps) // 2))


def _save_generator(model, path: Path) -> None:
    from .video_generation import save

    save(model.cpu(), path)  # loadable with worldmodels.video_generation.load(path)


@dataclass(frozen=True)
class ModelEntry:
    presets: Callable[[], dict[str, dict]]  # name -> config dict; "chapter5"-style default first
    run: Callable  # run(config, *, steps, shard, progress, **hooks) -> (model, History)
    save: Callable | None = None  # save(model, path) writes model.pt; None: {"config": asdict(model.config), "state_dict"}


MODELS: dict[str, ModelEntry] = {
    "world_model": ModelEntry(_world_model_presets, run_world_model),
    "object_model": ModelEntry(_object_model_presets, run_object_model),
    "diffusion": ModelEntry(_diffusion_presets, run_diffusion, _save_generator),
}


def load_config(model: str, config: str | None) -> dict:
    """A preset name, or a JSON file (partial configs extend the preset named by its "base" key)."""
    presets = MODELS[model].presets()
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
    return _merge(presets[base], values)


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
    parser.add_argument("--config", help="a preset name (world_model: chapter5, big, tiny; object_model: chapter7, tiny; "
                                         "diffusion: chapter9, tiny) or a JSON file")
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

    recipe = config.get("recipe", {})
    seed_everything(recipe.get("optim", recipe).get("seed", 0), threads=args.threads)  # diffusion: recipe["seed"]
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
        model, history = MODELS[args.model].run(
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
        if MODELS[args.model].save is not None:
            tmp = out / "model.pt.tmp"
            MODELS[args.model].save(model, tmp)
            os.replace(tmp, out / "model.pt")
        else:
            state = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
            _save_atomic({"config": dataclasses.asdict(model.config), "state_dict": state}, out / "model.pt")
        (out / "run.json").write_text(json.dumps({**summary, "config": config}, indent=2) + "\n")
        print(json.dumps(summary))
    _finish(world_size)
    return summary


def _finish(world_size: int) -> None:
    if world_size > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
