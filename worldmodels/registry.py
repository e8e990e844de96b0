"""The course's trainable models, each declared once: what it is called, its chapter, how it trains, how
it is saved and loaded, and how the evaluation harness calls it.

Everything that lists, trains, saves or loads a model reads this registry: the training command line
(`python -m worldmodels.train <name>`), the test bed of chapter 10 (`testbed.GENERATORS`), the explorer
(`explorer.registered_models`), the recorded reference runs (`load(name)`, `load_record(name)`) and every
benchmark's `--save`. Adding a model is one `register(ModelSpec(...))` call (the course's own models are
the entries at the end of this file):

    registry.register(registry.ModelSpec(
        name="toy", chapter="0", label="toy", build=Toy, presets=toy_presets, train=train_toy,
        as_predictor=toy_predictor, reference=Path("runs/toy/model.pt")))

One checkpoint format for every model, a dict saved with torch.save:

    {"format": 1, "model": name, "config": config dict (spec.build(config) makes the model), "state_dict": {...}}

floating-point tensors kept at the dtype they were saved with (the reference runs: `spec.stored_dtype`,
float16 halves the files) and loaded as float32. One run-record schema, a JSON file beside the weights
(same stem): {"model", "seed", "params", the keys of the model's config (so `--config record.json`
retrains the run; its "recipe": data fields plus stages, each a TrainConfig), "evaluation" (how the
metrics were measured, optional), "metrics", and any other facts of the run (training time, load average)}.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from .training import TrainConfig

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
FORMAT = 1  # the checkpoint format's version


def model_config(model: torch.nn.Module) -> dict:
    """The default ModelSpec.config_of: the model's config dataclass as a dict."""
    return dataclasses.asdict(model.config)


@dataclass(frozen=True)
class ModelSpec:
    """One trainable model of the course."""

    name: str  # the command line's name: python -m worldmodels.train <name>
    chapter: str  # the chapter that builds it ("5"; "A" for the appendix)
    label: str  # how the test bed and the explorer name it ("world model")
    build: Callable[[dict], torch.nn.Module]  # config dict -> a fresh model (a checkpoint's "config")
    presets: Callable[[], dict[str, dict]]  # preset name -> config dict; the first one is the default
    train: Callable  # train(config, *, steps, shard, progress, **hooks) -> (model, History), see worldmodels.train
    as_predictor: Callable | None = None  # model -> evaluation-harness predictor; None: not a frame predictor
    reference: Path | None = None  # the recorded run's weights (its record: the same path with .json)
    stored_dtype: torch.dtype = torch.float32  # the dtype `save` stores floating-point weights in by default
    config_of: Callable[[torch.nn.Module], dict] = model_config  # model -> the config dict `build` takes
    how: str = "python -m worldmodels.train"  # how the reference run is recorded (named in errors)
    takes_actions: bool = True  # its predictor accepts pushes (the explorer offers only those)

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"a model's name must be a Python identifier (e.g. 'world_model'), got {self.name!r}")
        if not callable(self.build) or not callable(self.presets) or not callable(self.train):
            raise ValueError(f"{self.name}: build, presets and train must be callables")


MODELS: dict[str, ModelSpec] = {}  # name -> spec, in registration order


def register(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add a model to the registry (replace=True overwrites an entry of the same name); returns spec."""
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"register takes a ModelSpec, got {type(spec).__name__}")
    if spec.name in MODELS and not replace:
        raise ValueError(f"a model named {spec.name!r} is registered already (pass replace=True to overwrite it)")
    MODELS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a model registered at run time (tests)."""
    get(name)
    del MODELS[name]


def get(name: str) -> ModelSpec:
    """The spec of a registered model; ValueError naming the registered ones otherwise."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; registered: {', '.join(MODELS)}")
    return MODELS[name]


def recorded_predictors() -> dict[str, ModelSpec]:
    """The registered frame predictors that have a recorded run, "label (chN)" -> spec, in registration
    order: what the test bed and the explorer offer."""
    return {f"{s.label} (ch{s.chapter})": s for s in MODELS.values()
            if s.as_predictor is not None and s.reference is not None}


def merge_config(base: dict, override: dict) -> dict:
    """Nested dict update (a preset with a partial config on top): override's leaves replace base's."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merge_config(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def split_steps(stage_steps: Sequence[int], steps: int) -> list[int]:
    """The one way `--steps N` stretches a schedule: N steps shared among a recipe's stages in proportion to
    their steps, at least 1 each (the last stage takes the rest). Each stage then stretches its own
    TrainConfig to its share with TrainConfig.with_steps (the warm-up shortened to fit)."""
    if steps < len(stage_steps):
        raise ValueError(f"--steps must be >= {len(stage_steps)} (one step per training stage), got {steps}")
    total, out = sum(stage_steps), []
    for i, share in enumerate(stage_steps[:-1]):
        left = len(stage_steps) - i - 1  # stages still to come, each needing a step
        out.append(min(max(1, round(steps * share / total)), steps - sum(out) - left))
    return out + [steps - sum(out)]


def stretch(stages: Sequence[TrainConfig], steps: int) -> list[TrainConfig]:
    """A recipe's stages over `steps` steps in all: split_steps shares them out, then each stage's
    TrainConfig.with_steps stretches its own schedule to its share."""
    return [stage.with_steps(n) for stage, n in zip(stages, split_steps([s.steps for s in stages], steps))]


def config_from_dict(cls, values: dict, name: str = "config"):
    """A config dataclass from its dict in a preset or run record (the inverse of dataclasses.asdict), its
    TrainConfig fields (a recipe's stages) rebuilt from their dicts; ValueError naming unknown keys."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"{name} has unknown keys {unknown}; known: {sorted(fields)}")
    stages = {key for key, f in fields.items() if f.type in (TrainConfig, "TrainConfig")}
    return cls(**{key: TrainConfig(**value) if key in stages and isinstance(value, dict) else value
                  for key, value in values.items()})


# ----------------------------------------------------------------------------------- weights and records


def save(name: str, model: torch.nn.Module, path, *, record: dict | None = None, dtype: torch.dtype | None = None) -> None:
    """Write `model` in the one checkpoint format, its floating-point weights as `dtype` (default: the spec's
    stored_dtype); with `record`, the run's JSON record beside it (same stem, .json)."""
    spec = get(name)
    dtype = spec.stored_dtype if dtype is None else dtype
    state = {k: v.detach().cpu().to(dtype) if v.is_floating_point() else v.detach().cpu()
             for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": FORMAT, "model": name, "config": spec.config_of(model), "state_dict": state}, path)
    if record is not None:
        save_record(record, path.with_suffix(".json"))


def read_checkpoint(path) -> dict:
    """The dict a checkpoint file holds (format, model, config, state_dict), checked."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"{path} is not a checkpoint of format {FORMAT} (written by worldmodels.registry.save)")
    return blob


def load(name: str, path=None) -> torch.nn.Module:
    """The model `name` written by `save` at `path` (default: its recorded reference run), float32, eval mode."""
    spec = get(name)
    path = spec.reference if path is None else Path(path)
    if path is None:
        raise ValueError(f"{name} has no recorded reference run: pass the path of a checkpoint")
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}: train one with {spec.how}")
    blob = read_checkpoint(path)
    if blob["model"] != name:
        raise ValueError(f"{path} holds a {blob['model']!r} model, not {name!r}")
    model = spec.build(blob["config"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    return model.eval()


def load_predictor(name: str, path=None):
    """The harness predictor of model `name` loaded by `load` (the recorded run by default)."""
    spec = get(name)
    if spec.as_predictor is None:
        raise ValueError(f"{name} is not a frame predictor of the evaluation harness")
    return spec.as_predictor(load(name, path))


def run_record(name: str, config: dict, *, seed: int, params: int, metrics: dict, evaluation: dict | None = None,
               **facts) -> dict:
    """The JSON record of a run: the model's name, seed, parameter count, every key of its config (what
    `--config record.json` retrains), how it was evaluated, what was measured, and other facts of the run."""
    missing = sorted(set(next(iter(get(name).presets().values()))) - set(config))
    if missing:
        raise ValueError(f"the config of a {name} run lacks {missing}: a record holds every recipe field")
    record = {"model": name, "seed": seed, "params": params, **config}
    if evaluation is not None:
        record["evaluation"] = evaluation
    return {**record, "metrics": metrics, **facts}


def save_record(record: dict, path) -> None:
    """Write a run's record as indented JSON."""
    Path(path).write_text(json.dumps(record, indent=2) + "\n")


def load_record(name: str, path=None) -> dict:
    """The JSON record of model `name`'s recorded run (or of the checkpoint at `path`: the .json beside it)."""
    spec = get(name)
    path = spec.reference if path is None else Path(path)
    if path is None:
        raise ValueError(f"{name} has no recorded reference run: pass a path")
    return json.loads(path.with_suffix(".json").read_text())


# ----------------------------------------------------------------------------------- the course's models


def _lazy(module: str, name: str) -> Callable:
    """worldmodels.<module>.<name>, imported when first called (importing the registry imports no model)."""

    def call(*args, **kwargs):
        return getattr(importlib.import_module(f"worldmodels.{module}"), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def _builder(module: str, model_class: str, config_class: str) -> Callable[[dict], torch.nn.Module]:
    """config dict -> model_class(config_class(**config)), both from worldmodels.<module>, imported when called."""

    def build(config: dict) -> torch.nn.Module:
        found = importlib.import_module(f"worldmodels.{module}")
        return getattr(found, model_class)(getattr(found, config_class)(**config))

    return build


register(ModelSpec(
    "next_frame", chapter="4", label="next-frame", build=_builder("next_frame", "ConvPredictor", "PredictorConfig"),
    presets=_lazy("next_frame_training", "presets"), train=_lazy("next_frame_training", "train_from_config"),
    as_predictor=_lazy("next_frame", "as_predictor"), reference=CHECKPOINT_DIR / "next_frame.pt",
    stored_dtype=torch.float16, how="worldmodels.next_frame_training.record_next_frame"))
register(ModelSpec(
    "world_model", chapter="5", label="world model", build=_builder("world_model", "WorldModel", "WorldModelConfig"),
    presets=_lazy("world_model_training", "presets"), train=_lazy("world_model_training", "train_from_config"),
    as_predictor=_lazy("world_model", "as_predictor"), reference=CHECKPOINT_DIR / "world_model.pt",
    stored_dtype=torch.float16, how="bench/world_model.py --save"))
register(ModelSpec(
    "object_model", chapter="7", label="object model", build=_builder("objects", "ObjectModel", "ObjectModelConfig"),
    presets=_lazy("objects_training", "presets"), train=_lazy("objects_training", "train_from_config"),
    as_predictor=_lazy("objects", "as_predictor"), reference=CHECKPOINT_DIR / "object_model.pt",
    stored_dtype=torch.float16, how="bench/objects.py --save", takes_actions=False))
register(ModelSpec(  # a text-to-video model: prompts, not start frames (the test bed's prompted_clips)
    "diffusion", chapter="9", label="text-to-video", build=_lazy("video_generation", "build"),
    presets=_lazy("video_generation_training", "presets"),
    train=_lazy("video_generation_training", "train_from_config"), reference=CHECKPOINT_DIR / "video_diffusion.pt",
    config_of=_lazy("video_generation", "generator_config"), how="bench/generation.py --save"))
register(ModelSpec(  # draws the tracks of 2-3 balls from a caption; the course's renderer draws them
    "track_generator", chapter="9", label="multi-ball generator", build=_lazy("track_generation", "build"),
    presets=_lazy("track_generation_training", "registry_presets"),
    train=_lazy("track_generation_training", "train_from_config"), reference=CHECKPOINT_DIR / "track_generation.pt",
    config_of=_lazy("track_generation", "generator_config"), how="bench/generation.py --save-tracks"))
register(ModelSpec(  # predicts embeddings, never frames: no harness predictor
    "jepa", chapter="11", label="JEPA", build=_builder("jepa", "JEPA", "JEPAConfig"),
    presets=_lazy("jepa_training", "presets"), train=_lazy("jepa_training", "train_from_config"),
    reference=CHECKPOINT_DIR / "jepa.pt", stored_dtype=torch.float16, how="bench/jepa.py --save"))
register(ModelSpec(  # a policy and its value, learned in the world model's imagination: no harness predictor
    "dreamer", chapter="12", label="dream-trained policy", build=_builder("dreamer", "ActorCritic", "ActorCriticConfig"),
    presets=_lazy("dreamer_training", "presets"), train=_lazy("dreamer_training", "train_from_config"),
    reference=CHECKPOINT_DIR / "dreamer.pt", stored_dtype=torch.float16, how="bench/dreamer.py --save"))
register(ModelSpec(
    "latent_actions", chapter="13", label="latent-action model",
    build=_builder("latent_actions", "LatentActionModel", "LatentActionConfig"),
    presets=_lazy("latent_actions_training", "presets"), train=_lazy("latent_actions_training", "train_from_config"),
    reference=CHECKPOINT_DIR / "latent_actions.pt", stored_dtype=torch.float16, how="bench/latent_actions.py --save"))
