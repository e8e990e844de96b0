"""The course's recorded world-model run: weights and a JSON record, saved and loaded.

Chapter 6 and the benchmarks load the reference run instead of retraining it. `bench/world_model.py
--save` trains it with worldmodels.world_model_training and writes both files; the record holds the
seed, the three configs (world_model_training.configs_from_record rebuilds them), the training time and
the measured metrics, and tests/test_world_model.py checks that the weights reproduce them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from .world_model import WorldModel, WorldModelConfig

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
REFERENCE_CHECKPOINT = CHECKPOINT_DIR / "world_model.pt"
REFERENCE_RECORD = CHECKPOINT_DIR / "world_model.json"
OBJECT_CHECKPOINT = CHECKPOINT_DIR / "object_model.pt"  # chapter 7: bench/objects.py --save
OBJECT_RECORD = CHECKPOINT_DIR / "object_model.json"


def save(model: WorldModel, path=REFERENCE_CHECKPOINT, record: dict | None = None) -> None:
    """Write the weights as float16 (half the size; the stored model is the one the record measures) and,
    with `record`, a JSON file beside it with the same stem."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.half() for k, v in model.state_dict().items()}
    torch.save({"config": dataclasses.asdict(model.config), "state_dict": state}, path)
    if record is not None:
        save_record(record, path.with_suffix(".json"))


def run_record(seed: int, configs: dict, evaluation: dict, metrics: dict) -> dict:
    """The JSON record of a reference run: its seed, parameter count (metrics["params"]), the configs that
    rebuild it (world_model_training.record_configs), how it is evaluated and what was measured."""
    return {"seed": seed, "params": metrics["params"], **configs, "evaluation": evaluation, "metrics": metrics}


def save_record(record: dict, path) -> None:
    """Write a run's record as indented JSON (the file tests and chapters read with load_record)."""
    Path(path).write_text(json.dumps(record, indent=2) + "\n")


def recorded_errors(predictor, record: dict, world) -> dict[str, float]:
    """A harness predictor's centroid error (px) at each horizon of record["metrics"]["model_error_px"],
    measured as the record says (record["evaluation"]: split, sequences, seed, context, horizon) in `world`:
    what a reproduction compares with the record."""
    from .data import make_split
    from .evaluation import evaluate

    ev = record["evaluation"]
    videos = make_split(ev["split"], ev["n_sequences"], ev["context"] + ev["horizon"], world, seed=ev["seed"])
    report = evaluate({"model": predictor}, videos, context=ev["context"], horizon=ev["horizon"], baselines=False)["model"]
    return {k: float(report.at(int(k))["error_px"]) for k in record["metrics"]["model_error_px"]}


def load(path=REFERENCE_CHECKPOINT) -> WorldModel:
    """Load a model written by `save` (the course's reference run by default), in eval mode, float32."""
    return _load(path, WorldModel, WorldModelConfig, "bench/world_model.py --save")


def load_object_model(path=None):
    """Load chapter 7's object model (worldmodels.objects.ObjectModel) written by `save`; by default the
    recorded reference run OBJECT_CHECKPOINT (its record: load_record(OBJECT_RECORD))."""
    from .objects import ObjectModel, ObjectModelConfig

    return _load(OBJECT_CHECKPOINT if path is None else path, ObjectModel, ObjectModelConfig, "bench/objects.py --save")


def _load(path, model_class, config_class, how: str):
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no checkpoint at {path}: train one with {how}")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = model_class(config_class(**blob["config"]))
    model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    return model.eval()


def load_record(path=REFERENCE_RECORD) -> dict:
    """The JSON record of a run: seed, configs, training time and metrics."""
    return json.loads(Path(path).read_text())


# Chapter 4's next-frame predictor, recorded the same way (worldmodels.testbed.record_next_frame trains it
# with the chapter's recipe); chapter 10 loads it as one of its generators instead of retraining it.
NEXT_FRAME_CHECKPOINT = CHECKPOINT_DIR / "next_frame.pt"
NEXT_FRAME_RECORD = CHECKPOINT_DIR / "next_frame.json"


def load_next_frame(path=NEXT_FRAME_CHECKPOINT):
    """Load a next_frame.ConvPredictor written by `save` (chapter 4's recorded run by default), eval mode."""
    from .next_frame import ConvPredictor, PredictorConfig

    return _load(path, ConvPredictor, PredictorConfig, "worldmodels.testbed.record_next_frame")
