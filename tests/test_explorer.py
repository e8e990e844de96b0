"""worldmodels.explorer: pushes drive the simulator and every model alike, errors are measured, updates are fast."""

import time

import numpy as np
import pytest

from worldmodels.evaluation import copy_last
from worldmodels.explorer import Explorer, ExplorerConfig
from worldmodels.render import render


def oracle_predictor(explorer_config):
    """A perfect model of the explorer's world, from the true positions (to check the bookkeeping)."""

    def predict(context, actions, horizon):
        from worldmodels.physics import simulate

        # Re-simulate with the same seed: the truth the explorer shows, so the error must be ~0.
        c = context.shape[1]
        traj = simulate(explorer_config.world, 1, c + horizon, seed=explorer_config.seed, actions=actions)
        return render(traj.positions, explorer_config.world.radius, explorer_config.world.size)[:, c:]

    return predict


CONFIG = ExplorerConfig(max_steps=6)


def test_starts_with_the_context_and_no_imagined_frame():
    explorer = Explorer(models={"copy": copy_last}, config=CONFIG)
    assert explorer.steps == 0
    assert explorer.true_frames.shape == (CONFIG.context, 32, 32)
    assert explorer.imagined["copy"].shape == (0, 32, 32)
    assert "Press a push button" in explorer.status_html()


def test_a_push_advances_one_frame_and_changes_the_ball():
    free = Explorer(models={"copy": copy_last}, config=CONFIG).push(0, 0).push(0, 0)
    pushed = Explorer(models={"copy": copy_last}, config=CONFIG).push(0.5, 0).push(0, 0)
    assert pushed.steps == 2 and pushed.true_frames.shape == (CONFIG.context + 2, 32, 32)
    # the push at the last context frame moves the ball 0.5 px further right in the first imagined frame
    dx = pushed.positions[CONFIG.context, 0, 0] - free.positions[CONFIG.context, 0, 0]
    assert np.isclose(abs(dx), 0.5, atol=1e-9), dx
    assert pushed.table().shape == (2, 2)
    assert list(pushed.table()["push"]) == ["(+0.5, +0.0)", "none"]


def test_a_perfect_model_has_no_error_and_copy_last_does():
    explorer = Explorer(models={"perfect": oracle_predictor(CONFIG), "copy": copy_last}, config=CONFIG)
    for push in [(0.5, 0), (0, 0), (0, -0.5), (0, 0)]:
        explorer.push(*push)
    assert explorer.errors["perfect"].max() < 0.05, explorer.errors["perfect"]
    assert explorer.errors["copy"][-1] > 2.0, explorer.errors["copy"]


def test_undo_reset_and_limits():
    explorer = Explorer(models={"copy": copy_last}, config=CONFIG)
    for _ in range(CONFIG.max_steps):
        explorer.push(0, 0)
    with pytest.raises(ValueError, match="max_steps"):
        explorer.push(0, 0)
    explorer.undo()
    assert explorer.steps == CONFIG.max_steps - 1
    explorer.reset()
    assert explorer.steps == 0
    with pytest.raises(ValueError, match="finite"):
        explorer.push(float("nan"), 0)


def test_bad_arguments_say_what_to_change():
    with pytest.raises(ValueError, match="at least one model"):
        Explorer(models={}, config=CONFIG)
    with pytest.raises(ValueError, match="harness predictor"):
        Explorer(models={"x": 3}, config=CONFIG)
    with pytest.raises(ValueError, match="context"):
        ExplorerConfig(context=0)
    with pytest.raises(ValueError, match="push_size"):
        ExplorerConfig(push_size=-1)
    bad = Explorer(models={"bad": lambda c, a, k: np.zeros((1, k, 8, 8))}, config=CONFIG)
    with pytest.raises(ValueError, match="returned frames of shape"):
        bad.push(0, 0)


def test_the_chapter5_model_updates_within_200_ms():
    """Each button press (re-imagine, draw the frames, the status and its error plot) within 200 ms on a laptop."""
    explorer = Explorer()  # the recorded chapter-5 world model
    seconds = []
    for step in range(20):
        started = time.perf_counter()
        explorer.push(0.5 if step % 4 == 0 else 0.0, 0.0)
        explorer.frame_png()
        explorer.status_html()
        seconds.append(time.perf_counter() - started)
    # The fastest of several presses: what the code costs, not how busy a shared machine is.
    assert min(seconds) < 0.2, f"updates took {[round(1000 * s) for s in seconds]} ms"
    assert explorer.errors["world model"].shape == (20,)
    assert np.all(np.isfinite(explorer.errors["world model"]))


def test_widget_and_static_views():
    explorer = Explorer(models={"copy": copy_last}, config=CONFIG).push(0.5, 0)
    box = explorer.widget()
    buttons = [w for w in box.children[0].children]
    assert [b.description for b in buttons][:2] == ["← push", "→ push"]
    buttons[1].click()  # → push
    assert explorer.steps == 2 and "k = 2" in box.children[2].value
    html = explorer.static_html(caption="c").data
    assert "data:image/gif;base64," in html
    assert explorer.plot_errors() is not None


def test_recorded_models_of_the_registry_are_offered_by_name():
    from worldmodels.explorer import reference_models, reference_world_model, registered_models

    assert registered_models() == ["next_frame", "world_model"]  # the object model takes no pushes
    assert list(reference_world_model()) == ["world model"]
    models = reference_models("next_frame", "world_model")
    assert list(models) == ["next-frame", "world model"]
    assert Explorer(models=models, config=CONFIG).push(0.5, 0.0).imagined["next-frame"].shape == (1, 32, 32)
