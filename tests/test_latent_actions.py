"""Fast tests of the latent action model (chapter 13) and its recipe; the slow test retrains the recorded run."""

import dataclasses
import os

import numpy as np
import pytest
import torch

from worldmodels import registry
from worldmodels.latent_actions import (PUSH_DIRECTIONS, LatentActionConfig, LatentActionModel, as_predictor,
                                        latent_action_loss, push_classes, quantise, restart_dead_codes,
                                        count_choices, restart_dead_choices, fsq_grid, fsq_quantise)
from worldmodels.latent_actions_training import (LatentActionRecipe, attach_mapping, best_mapping, code_confusion,
                                                 controllability, hidden_push_videos, hidden_pushes, mapped_agreement,
                                                 presets, train_from_config, transition_labels, wall_bounces)

TINY = LatentActionConfig(channels=16, layers=2, action_hidden=16)


def test_quantise_snaps_forward_and_passes_gradient_straight_through():
    codebook = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]])
    e = torch.tensor([[0.9, 1.2], [0.1, -0.1], [-0.8, 1.5]], requires_grad=True)
    q, index = quantise(e, codebook)
    assert index.tolist() == [1, 0, 2]
    assert torch.allclose(q, codebook[index])
    (q * torch.tensor([1.0, 2.0])).sum().backward()
    assert torch.allclose(e.grad, torch.tensor([[1.0, 2.0]] * 3))  # the identity backward
    with pytest.raises(ValueError):
        quantise(torch.zeros(2, 3), codebook)


def test_finite_scalar_quantisation_rounds_each_number_and_passes_gradient_straight_through():
    grid = fsq_grid((3, 3))
    assert grid.shape == (9, 2) and grid[4].tolist() == [0.0, 0.0] and grid[7].tolist() == [1.0, 0.0]
    e = torch.tensor([[5.0, -5.0], [0.1, -0.2], [0.2, 3.0]], requires_grad=True)
    q, index = fsq_quantise(e, (3, 3))
    assert q.tolist() == [[1.0, -1.0], [0.0, 0.0], [0.0, 1.0]] and index.tolist() == [6, 4, 5]
    assert torch.equal(grid[index], q.detach())
    q.sum().backward()
    assert torch.allclose(e.grad, 1 - torch.tanh(e.detach()) ** 2)  # tanh's slope: the rounding passes it on
    with pytest.raises(ValueError):
        LatentActionConfig(quantiser="fsq", levels=(2, 3), codes=6, code_dim=2)
    with pytest.raises(ValueError):
        LatentActionConfig(quantiser="fsq", levels=(3, 3), codes=5, code_dim=2)


def test_dead_code_restart_moves_unused_codes_onto_the_data():
    codebook = torch.tensor([[0.0, 0.0], [100.0, 100.0]])
    e = torch.tensor([[0.1, 0.0], [3.0, 0.0]])
    _, index = quantise(e, codebook)
    assert restart_dead_codes(codebook, e, index) == 1
    assert torch.equal(codebook[1], torch.tensor([3.0, 0.0]))  # the proposal the live code fitted worst


def test_simplex_restart_splits_the_busiest_code():
    torch.manual_seed(0)
    model = LatentActionModel(TINY)
    assert restart_dead_choices(model) == 0  # nothing counted yet
    count_choices(model, torch.tensor([0, 0, 0, 1, 1, 2, 2, 3]))  # code 4 never chosen, code 0 the busiest
    last = model.action_encoder[-1]
    assert restart_dead_choices(model) == 1
    assert torch.allclose(last.weight[4], last.weight[0], atol=0.05) and last.bias[4] == last.bias[0]
    assert model._code_share[4] == model._code_share[0] == 3 / 16


def test_glide_moves_frame_t_on_by_the_last_move():
    from worldmodels.centroid import centroids

    videos = hidden_push_videos("val", 32, 4, push_probs=(0, 0, 0, 0), seed=1)
    glide = LatentActionModel(TINY).glide(torch.as_tensor(videos.frames[:, :2])).numpy()
    p = videos.positions[:, :, 0]
    away = ((p[:, :3] > 7) & (p[:, :3] < 25)).all((1, 2))  # no wall near frames 0 .. 2
    assert away.sum() >= 4
    assert np.abs(centroids(glide, n_balls=1)[:, 0] - p[:, 2])[away].max() < 0.2  # where the ball glides to
    with pytest.raises(ValueError):
        LatentActionConfig(past=1)  # the glide needs two frames
    assert LatentActionModel(LatentActionConfig(past=1, glide=False, channels=8, layers=2)).config.past == 1


def test_glide_reflects_at_the_walls_and_reads_a_bounce_from_three_frames():
    from worldmodels.centroid import centroids
    from worldmodels.data import CANONICAL
    from worldmodels.physics import simulate
    from worldmodels.render import render

    # x = 23, 25.5, 28, then 30.5 mirrored at the wall (29, the radius away from the edge): 27.5, 25, 22.5
    traj = simulate(CANONICAL, 1, 6, init=(np.array([[[23.0, 16.0]]]), np.array([[[2.5, 0.0]]])))
    frames = torch.as_tensor(render(traj.positions, 3.0, 32))
    model = LatentActionModel(TINY)
    for t in (2, 3, 4):  # the glide into the wall, the step after it (the last move, -0.5 px, is no guide), the next
        glide = model.glide(frames[:, t - 2 : t + 1]).numpy()
        assert abs(centroids(glide, n_balls=1)[0, 0, 0] - traj.positions[0, t + 1, 0, 0]) < 0.2, t
    _, target, beyond = model.glide_target(frames[:, 0:3])
    assert abs(target[0, 0] - 30.5) < 0.1 and beyond.tolist() == [[1.0, 0.0]]  # unfolded: beyond the right wall
    through = LatentActionModel(dataclasses.replace(TINY, walls=False)).glide(frames[:, 0:3]).numpy()
    assert centroids(through, n_balls=1)[0, 0, 0] > 28.5  # without walls it glides on into the wall
    with pytest.raises(ValueError):
        LatentActionConfig(radius=20.0)


def test_unfold_walls_mirrors_at_the_wall_each_axis_lies_beyond():
    from worldmodels.latent_actions import unfold_walls

    points = torch.tensor([[30.0, 2.0], [10.0, 10.0], [27.0, 31.0]])
    beyond = torch.tensor([[1.0, -1.0], [0.0, 0.0], [1.0, 1.0]])
    assert unfold_walls(points, beyond, (3.0, 29.0)).tolist() == [[28.0, 4.0], [10.0, 10.0], [31.0, 27.0]]
    assert unfold_walls(points, beyond, None) is points  # no walls: nothing to mirror


def test_push_classes():
    actions = np.array([[0.0, 0.0], [1.0, 0.1], [-0.5, 0.0], [0.0, 0.7], [0.2, -1.0]])
    assert push_classes(actions).tolist() == [0, 1, 2, 3, 4]
    assert push_classes(PUSH_DIRECTIONS).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        push_classes(np.zeros(3))


def test_hidden_pushes_follow_their_probabilities():
    pushes = hidden_pushes(400, 50, np.random.default_rng(0), (0.1, 0.2, 0.0, 0.3), 0.5)
    share = np.bincount(push_classes(pushes).ravel(), minlength=5) / pushes[..., 0].size
    assert np.allclose(share, [0.4, 0.1, 0.2, 0.0, 0.3], atol=0.01)
    assert set(np.round(np.linalg.norm(pushes, axis=-1), 6).ravel()) <= {0.0, 0.5}
    with pytest.raises(ValueError):
        hidden_pushes(2, 5, np.random.default_rng(0), (0.5, 0.5, 0.5, 0.0))


def test_held_out_clips_are_seeded_and_labelled():
    a, b = hidden_push_videos("test", 4, 12, seed=3), hidden_push_videos("test", 4, 12, seed=3)
    assert np.array_equal(a.frames, b.frames) and a.frames.shape == (4, 12, 32, 32)
    assert not np.array_equal(a.frames, hidden_push_videos("val", 4, 12, seed=3).frames)
    assert transition_labels(a).shape == wall_bounces(a).shape == (4, 10)
    with pytest.raises(ValueError):
        hidden_push_videos("nope", 4, 12)


def test_wall_bounces_flags_a_ball_meeting_a_wall():
    from worldmodels.data import CANONICAL, BallVideos
    from worldmodels.physics import simulate
    from worldmodels.render import render

    # x = 25, 27, 29 (on the right wall: the velocity flips in the step 1 -> 2), 27, 25, 23
    traj = simulate(CANONICAL, 1, 6, init=(np.array([[[25.0, 16.0]]]), np.array([[[2.0, 0.0]]])))
    videos = BallVideos(render(traj.positions, 3.0, 32), traj.positions, traj.velocities, traj.actions, CANONICAL)
    assert wall_bounces(videos)[0].tolist() == [True, False, False, False]


def test_confusion_best_mapping_and_agreement():
    labels = np.array([0, 0, 1, 1, 2, 2, 0])
    codes = np.array([2, 2, 0, 0, 1, 0, 2])
    confusion = code_confusion(codes, labels, n_codes=3, n_classes=3)
    assert confusion.tolist() == [[0, 2, 1], [0, 0, 1], [3, 0, 0]]
    mapping = best_mapping(confusion)
    assert mapping == {0: 2, 1: 0, 2: 1}
    assert mapped_agreement(confusion, mapping) == (6, 7)
    assert best_mapping(np.array([[5, 1, 0], [0, 1, 4]])) == {0: 0, 2: 1}  # too few codes: a class goes unmapped
    assert best_mapping(np.array([[0, 3], [1, 0], [4, 0]])) == {0: 2, 1: 0}  # too many: a code stays unused
    with pytest.raises(ValueError):
        code_confusion([0, 5], [0, 1], n_codes=3, n_classes=3)
    with pytest.raises(ValueError):
        best_mapping(np.zeros((0, 3)))


def test_loss_is_finite_and_trains_every_part():
    torch.manual_seed(0)
    model = LatentActionModel(TINY)
    frames = torch.as_tensor(hidden_push_videos("train", 3, 8).frames)
    loss = latent_action_loss(model, frames)
    assert torch.isfinite(loss)
    loss.backward()
    for name in ("action_encoder.0.weight", "dynamics.0.weight", "dynamics.2.weight"):
        assert dict(model.named_parameters())[name].grad.abs().sum() > 0, name
    with pytest.raises(ValueError):
        latent_action_loss(model, frames[:, :2])


def test_config_and_inputs_are_checked():
    with pytest.raises(ValueError):
        LatentActionConfig(codes=1)
    with pytest.raises(ValueError):
        LatentActionConfig(channels=0)
    with pytest.raises(ValueError):
        LatentActionRecipe(rollout_steps=0)
    with pytest.raises(ValueError):
        LatentActionRecipe(push_probs=(0.5, 0.5, 0.5, 0.0))
    model = LatentActionModel(TINY)
    with pytest.raises(ValueError):
        model.propose(torch.zeros(2, 2, 32, 32))
    with pytest.raises(ValueError):
        model.code_vectors(torch.tensor([TINY.codes]))
    with pytest.raises(ValueError):
        as_predictor(model)  # no mapping measured yet


def test_tiny_preset_trains_maps_and_predicts():
    assert list(presets())[0] == "chapter13" and "tiny" in presets()
    model, history = train_from_config(presets()["tiny"], steps=3, progress=False)
    assert len(history.train_loss) == 3
    videos = hidden_push_videos("val", 6, 12)
    found = attach_mapping(model, videos)
    assert found["confusion"].sum() == 6 * (12 - TINY.past) and len(found["mapping"]) == 5
    assert model.push_codes.min() >= 0
    frames = as_predictor(model)(videos.frames[:, :5], videos.actions[:, :8], 3)
    assert frames.shape == (6, 3, 32, 32) and np.isfinite(frames).all()
    assert as_predictor(model)(videos.frames[:, :5], None, 2).shape == (6, 2, 32, 32)
    control = controllability(model, videos, steps=2, away_from_walls=False)
    assert control["n"] == 4 * 6 and control["starts"] == 6 and 0 <= control["agree"] <= control["n"]
    clear = controllability(model, videos, steps=1)
    assert clear["n"] == 4 * clear["starts"] and 0 < clear["starts"] <= 6


def test_registry_builds_and_saves_it(tmp_path):
    model = registry.get("latent_actions").build(registry.model_config(LatentActionModel(TINY)))
    model.push_codes.copy_(torch.arange(5))
    registry.save("latent_actions", model, tmp_path / "m.pt")
    back = registry.load("latent_actions", tmp_path / "m.pt")
    assert back.config == TINY and back.push_codes.tolist() == [0, 1, 2, 3, 4]


def test_recorded_run_loads_and_keeps_its_mapping():
    spec = registry.get("latent_actions")
    if not spec.reference.is_file():
        pytest.skip("no recorded run yet: python bench/latent_actions.py --save")
    model = registry.load("latent_actions")
    record = registry.load_record("latent_actions")
    assert record["params"] == sum(p.numel() for p in model.parameters()) <= 1_000_000
    assert sorted(model.push_codes.tolist()) == sorted(set(model.push_codes.tolist()))  # one code per push


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("WM_SLOW") != "1", reason="slow: set WM_SLOW=1")
def test_reproduces_the_recorded_run():
    """Retrain the recorded recipe on one core and compare with the record: the codes' agreement with the
    hidden pushes within 0.04, the k = 10 error within 10 % and the controllability within 0.03. Measured with
    generic CPU kernels (ATEN_CPU_CAPABILITY=default, one thread, 35 s): 0.930 against the recorded 0.930,
    4.01 against 4.15 px (3.4 %), 1.000 against 1.000; other kernels round differently and the codes'
    restarts during training can amplify it, so the tolerances leave room for that."""
    import importlib.util
    from pathlib import Path

    torch.set_num_threads(1)
    record = registry.load_record("latent_actions")
    spec = importlib.util.spec_from_file_location("bench_la", Path(__file__).parents[1] / "bench" / "latent_actions.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model, _ = train_from_config(record, progress=False)
    from worldmodels.latent_actions_training import configs_from_record

    _, recipe, _ = configs_from_record(record)
    out = bench.measure(model, recipe)
    want = record["metrics"]
    print("reproduced:", out["code_push_agreement"]["value"], out["error_px"]["10"], out["controllability"]["value"])
    assert abs(out["code_push_agreement"]["value"] - want["code_push_agreement"]["value"]) <= 0.04
    assert abs(out["error_px"]["10"] - want["error_px"]["10"]) <= 0.10 * want["error_px"]["10"]
    assert abs(out["controllability"]["value"] - want["controllability"]["value"]) <= 0.03
