"""worldmodels.registry: a model added through the registry alone trains through the command line, saves,
reloads, is measured by the harness and appears in the test bed and the explorer (the toy model is the code
of CONTRIBUTING.md's walkthrough "Add a model, add a chapter", run as written); the recorded runs share one
checkpoint format and one record schema."""

import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from worldmodels import evaluation, explorer, registry, testbed, train, training
from worldmodels.data import CANONICAL, make_split

# ----------------------------------------------------------------------------- the toy model of CONTRIBUTING.md

WALKTHROUGH = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"


def walkthrough_code() -> list[str]:
    """The Python blocks of CONTRIBUTING.md's section "Add a model, add a chapter", in order."""
    text = WALKTHROUGH.read_text()
    section = text[text.index("## Add a model, add a chapter"):]
    section = section[: section.index("\n## ", 1)]
    return [textwrap.dedent(block) for block in re.findall(r"```python\n(.*?)```", section, flags=re.S)]


@pytest.fixture
def toy(tmp_path):
    """Run the walkthrough's code as written: the model file, the training file and the registry entry."""
    namespace = {"dataclass": dataclass, "nn": nn, "np": np, "torch": torch, "training": training,
                 "make_split": make_split, "CANONICAL": CANONICAL, "registry": registry, "CHECKPOINT_DIR": tmp_path}
    blocks = walkthrough_code()
    assert len(blocks) == 3, "the walkthrough shows the model file, the training file and the registry entry"
    for block in blocks:
        exec(block, namespace)
    yield namespace
    registry.unregister("toy")


def test_a_model_added_through_the_registry_alone(toy, tmp_path):
    spec = registry.get("toy")
    summary = train.main(["toy", "--config", "tiny", "--steps", "2", "--device", "cpu", "--out", str(tmp_path / "run")])
    assert summary["model"] == "toy" and summary["steps"] == 2
    model = registry.load("toy", tmp_path / "run" / "model.pt")
    assert isinstance(model, toy["Toy"]) and not model.training and float(model.gain.detach()) != 1.0  # trained

    test = make_split("test", 16, 30, CANONICAL, seed=0)
    reports = evaluation.evaluate({"toy": spec.as_predictor(model)}, test, context=10, horizon=20)
    assert np.isfinite(reports["toy"].at(20)["error_px"])
    record = registry.run_record("toy", spec.presets()["tiny"], seed=0, params=training.n_parameters(model),
                                 metrics={"error_px_k20": reports["toy"].at(20)["error_px"]})
    registry.save("toy", model, spec.reference, record=record)  # its recorded run
    saved = registry.read_checkpoint(spec.reference)
    assert saved["format"] == registry.FORMAT and saved["model"] == "toy" and saved["config"] == {"size": 32}
    assert torch.equal(registry.load("toy").gain, model.gain.detach())
    assert registry.load_record("toy")["optim"]["steps"] == 20

    assert list(testbed.GENERATORS)[-1] == "toy (ch0)"
    config = testbed.TestBedConfig(n_clips=4)
    clips = testbed.generated_clips(testbed.GENERATORS["toy (ch0)"](), testbed.real_videos("test", config), config)
    assert clips.shape == (4, config.length, 32, 32)
    assert "toy" in explorer.registered_models()
    assert explorer.Explorer(models=explorer.reference_models("toy")).push(1.0, 0.0).steps == 1


def test_registration_is_checked(toy):
    with pytest.raises(ValueError, match="registered already"):
        registry.register(registry.get("toy"))
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        registry.get("nope")
    with pytest.raises(ValueError, match="Python identifier"):
        registry.ModelSpec("a toy", chapter="0", label="toy", build=toy["Toy"], presets=toy["toy_presets"],
                           train=toy["train_toy"])


def test_loading_checks_the_file(toy, tmp_path):
    registry.save("toy", toy["Toy"](), tmp_path / "toy.pt")
    with pytest.raises(ValueError, match="holds a 'toy' model, not 'world_model'"):
        registry.load("world_model", tmp_path / "toy.pt")
    torch.save({"state_dict": {}}, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="not a checkpoint of format 1"):
        registry.load("toy", tmp_path / "old.pt")
    with pytest.raises(ValueError, match="no checkpoint at"):
        registry.load("toy", tmp_path / "missing.pt")


def test_split_steps_shares_a_schedule_among_stages():
    assert registry.split_steps([1500, 2500], 400) == [150, 250]
    assert registry.split_steps([60, 1440], 6) == [1, 5]
    assert registry.split_steps([1200, 200], 2) == [1, 1]
    assert registry.split_steps([10], 7) == [7]
    with pytest.raises(ValueError, match="--steps must be >= 2"):
        registry.split_steps([5, 5], 1)


# ------------------------------------------------------------------------------------- the recorded runs


@pytest.mark.parametrize("name", [name for name, spec in registry.MODELS.items() if spec.reference is not None])
def test_every_recorded_run_has_one_format_and_one_record_schema(name):
    spec = registry.get(name)
    saved = registry.read_checkpoint(spec.reference)
    assert saved["model"] == name and spec.reference.stat().st_size < 5e6
    assert {v.dtype for v in saved["state_dict"].values() if v.is_floating_point()} == {spec.stored_dtype}
    model = registry.load(name)
    assert all(v.dtype == torch.float32 for v in model.state_dict().values() if v.is_floating_point())
    assert spec.config_of(model) == saved["config"]
    record = registry.load_record(name)
    assert record["model"] == name and {"seed", "params", "metrics"} <= set(record)
    assert record["params"] == sum(p.numel() for p in model.parameters())
    default = next(iter(spec.presets().values()))  # the first preset is the recorded run, every recipe field
    assert json.loads(json.dumps(default)) == {k: record[k] for k in default}
    retrain = train.load_config(name, str(spec.reference.with_suffix(".json")))  # --config record.json
    assert json.loads(json.dumps(retrain)) == json.loads(json.dumps(default))
