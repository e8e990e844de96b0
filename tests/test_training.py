import math

import pytest
import torch

from worldmodels.training import TrainConfig, batch_sampler, learning_rate, train, validation_loss


def test_training_fits_a_line_and_records_history():
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 64)[:, None]
    y = 3 * x - 1
    model = torch.nn.Linear(1, 1)
    loss_fn = lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1])
    config = TrainConfig(steps=300, lr=0.05, eval_every=100)
    history = train(model, loss_fn, batch_sampler(x, y, batch_size=16), config, val_batch=(x, y), progress=False)
    assert len(history.train_loss) == 300 and history.steps[-1] == 299
    assert history.val_steps == [0, 100, 200, 299]
    assert history.val_loss[-1] < 1e-3 < history.val_loss[0]


def test_same_seed_same_history():
    def run():
        torch.manual_seed(0)
        model = torch.nn.Linear(2, 1)
        x = torch.randn(50, 2, generator=torch.Generator().manual_seed(1))
        fn = lambda m, b: m(b[0]).pow(2).mean()
        return train(model, fn, batch_sampler(x, batch_size=8), TrainConfig(steps=20), progress=False).train_loss

    assert run() == run()


def test_learning_rate_schedule():
    config = TrainConfig(steps=101, lr=1.0, warmup_steps=10, min_lr_fraction=0.1)
    assert math.isclose(learning_rate(0, config), 0.1)
    assert math.isclose(learning_rate(10, config), 1.0)
    assert math.isclose(learning_rate(100, config), 0.1)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=-1)
    with pytest.raises(ValueError, match="first dimension"):
        batch_sampler(torch.zeros(3), torch.zeros(4), batch_size=2)
    model = torch.nn.Linear(1, 1)
    bad = lambda m, b: m(b[0]).sum() * float("nan")
    with pytest.raises(ValueError, match="learning rate"):
        train(model, bad, batch_sampler(torch.zeros(4, 1), batch_size=2), TrainConfig(steps=2), progress=False)


def test_n_parameters_counts_weights_and_biases():
    from worldmodels.training import n_parameters

    assert n_parameters(torch.nn.Linear(3, 2)) == 3 * 2 + 2


def test_batch_sampler_windows_are_consecutive_and_aligned():
    frames = torch.arange(4 * 7, dtype=torch.float32).reshape(4, 7, 1, 1).expand(4, 7, 2, 2).contiguous()
    labels = torch.arange(4 * 7).reshape(4, 7)
    batch, lab = batch_sampler(frames, labels, batch_size=16, window=3)(torch.Generator().manual_seed(0))
    assert batch.shape == (16, 3, 2, 2) and lab.shape == (16, 3)
    first = batch[:, :, 0, 0]
    assert torch.all(first[:, 1:] - first[:, :-1] == 1)  # consecutive
    assert torch.all(first[:, 0] % 7 <= 4)  # never runs past the end of a sequence
    assert torch.equal(first.long(), lab)  # the same rows and steps in every tensor
    with pytest.raises(ValueError, match="window"):
        batch_sampler(frames, batch_size=2, window=8)


def test_validation_loss_runs_in_eval_mode_and_restores_the_mode():
    model = torch.nn.Sequential(torch.nn.Dropout(0.5))
    x = torch.ones(100)
    model.train()
    assert validation_loss(model, lambda m, b: m(b).sum(), x) == 100.0  # dropout off
    assert model.training


def test_scaling_options_leave_a_cpu_run_unchanged():
    """device, checkpoints and elapsed (worldmodels.scaling) change no weight and no loss of a CPU run."""
    x = torch.randn(32, 2, generator=torch.Generator().manual_seed(1))
    fn = lambda m, b: m(b[0]).pow(2).mean()

    def run(**scaling):
        torch.manual_seed(0)
        model = torch.nn.Linear(2, 1)
        history = train(model, fn, batch_sampler(x, batch_size=8), TrainConfig(steps=12, eval_every=5),
                        val_batch=(x,), progress=False, **scaling)
        return model, history

    plain, plain_history = run()
    states = []
    scaled, history = run(device="cpu", checkpoint=states.append, checkpoint_every=5, elapsed=100.0)
    assert torch.equal(plain.weight, scaled.weight) and plain_history.train_loss == history.train_loss
    assert plain_history.val_loss == history.val_loss and [s["step"] for s in states] == [5, 10, 12]
    assert history.seconds >= 100.0 and states[0]["history"]["seconds"] >= 100.0
    with pytest.raises(ValueError, match="checkpoint_every"):
        run(checkpoint_every=-1)
    with pytest.raises(TypeError):
        run(devices="cpu")
