import numpy as np
import pytest
import torch

from worldmodels.diffusion import DiT, DiTConfig, euler_step, flow_matching_loss, interpolate, sample

SMALL = DiTConfig(width=16, depth=1, heads=2)


def test_schedule_endpoints():
    x0, noise = torch.randn(3, 4, 8), torch.randn(3, 4, 8)
    assert torch.equal(interpolate(x0, noise, torch.zeros(3)), x0)
    assert torch.equal(interpolate(x0, noise, torch.ones(3)), noise)
    mid = interpolate(x0, noise, torch.full((3,), 0.25))
    assert torch.allclose(mid, 0.75 * x0 + 0.25 * noise)
    with pytest.raises(ValueError):
        interpolate(x0, noise, torch.zeros(2))


def test_one_step_on_a_known_case():
    # a perfect clean prediction: the step lands on the straight line at t_next
    x0, noise = torch.randn(2, 4, 8), torch.randn(2, 4, 8)
    x_t = interpolate(x0, noise, torch.full((2,), 0.8))
    x_next = euler_step(x_t, x0, 0.8, 0.3)
    assert torch.allclose(x_next, interpolate(x0, noise, torch.full((2,), 0.3)), atol=1e-6)
    assert torch.equal(euler_step(x_t, x0, 0.8, 0.0), x0)
    with pytest.raises(ValueError):
        euler_step(x_t, x0, 0.3, 0.8)


def test_dit_starts_as_identity_blocks_and_shapes():
    model = DiT(SMALL)
    x = torch.randn(5, 4, 8)
    out = model(x, torch.rand(5), torch.zeros(5, 14, dtype=torch.long))
    assert out.shape == x.shape
    with pytest.raises(ValueError):
        model(torch.randn(5, 3, 8), torch.rand(5), torch.zeros(5, 14, dtype=torch.long))
    with pytest.raises(ValueError):
        DiTConfig(width=10, heads=3)


def test_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = DiT(SMALL)
    batch = (torch.randn(16, 4, 8), torch.randint(1, 20, (16, 14)), torch.rand(16), torch.randn(16, 4, 8))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = flow_matching_loss(model, batch).item()
    for _ in range(60):
        loss = flow_matching_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * first


def test_sampler_shapes_and_seed():
    model = DiT(SMALL)
    words = torch.zeros(3, 14, dtype=torch.long)
    a = sample(model, words, n_steps=4, generator=torch.Generator().manual_seed(1))
    b, path = sample(model, words, n_steps=4, generator=torch.Generator().manual_seed(1), return_path=True)
    assert a.shape == (3, 4, 8) and path.shape == (5, 3, 4, 8)
    assert torch.equal(a, b)
    with pytest.raises(ValueError):
        sample(model, words, n_steps=0)


# ------------------------------------------------------------------------------------- the reference run

import os  # noqa: E402

from worldmodels import registry  # noqa: E402
from worldmodels import video_generation_training as vgt  # noqa: E402
from worldmodels.training import n_parameters  # noqa: E402


def test_reference_generator_loads_and_samples():
    # how fast 16 clips sample is measured by bench/generation.py (sample_seconds_16), not in a timed test
    record = registry.load_record("diffusion")
    assert registry.get("diffusion").reference.stat().st_size < 5e6
    g = registry.load("diffusion")
    assert n_parameters(g) == record["params"] <= 2_000_000
    prompts = ["a ball moving upward leftward , fast"] * 16
    frames = g.generate(prompts, n_frames=16, seed=0)
    assert frames.shape == (16, 16, 32, 32) and frames.dtype == np.float32
    assert 0 <= frames.min() and frames.max() <= 1
    assert np.array_equal(frames, g.generate(prompts, 16, seed=0))  # seeded
    with pytest.raises(ValueError):
        g.generate(prompts, n_frames=24)
    with pytest.raises(ValueError):
        g.generate("a ball bouncing")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("WM_SLOW") != "1", reason="retrains the reference run's reproduction prefix (a quarter of its steps, ~2 min on one quiet core); set WM_SLOW=1")
def test_training_code_reproduces_the_reference_metrics():
    """Retrain the recorded recipe stretched to its reproduction prefix on one thread (bench/reproduction.py,
    worldmodels.reference_run.reproduce_prefix) and compare with what the prefix measured when it was recorded."""
    from worldmodels.reference_run import reproduce_prefix

    want = registry.load_record("diffusion")["metrics"]["reproduction"]
    measured = reproduce_prefix("diffusion", want["steps"])
    for key in ("real_law_pass_rate", "roundtrip_law_pass_rate"):
        assert measured[key] == pytest.approx(want[key], abs=0.05), key
    for split in ("in", "out"):
        assert measured["law_pass_rate"][split] == pytest.approx(want["law_pass_rate"][split], abs=0.1), split
        for part in ("direction", "speed"):
            assert measured["prompt_adherence"][split][part] == pytest.approx(want["prompt_adherence"][split][part], abs=0.1)


def test_every_dit_parameter_gets_a_gradient_from_a_caption_batch():
    # DistributedDataParallel (worldmodels.train diffusion under torchrun) needs a gradient for every
    # parameter of the module it wraps, the DiT alone; the compression network is frozen and outside it.
    latents = torch.randn(12, 4, 8)
    parts = np.stack([np.arange(12) % 4, np.arange(12) % 2, np.full(12, -1)], axis=1)
    for seed in range(3):  # with and without empty prompts in the batch
        model = DiT(SMALL)
        batch = vgt.caption_batches(latents, parts, 4, shard=(1, 2))(torch.Generator().manual_seed(seed))
        assert batch[0].shape == (2, 4, 8)
        flow_matching_loss(model, batch).backward()
        missing = [name for name, p in model.named_parameters() if p.grad is None]
        assert not missing, f"no gradient for {missing}"
