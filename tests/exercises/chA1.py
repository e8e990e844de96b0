"""Grading tests of the scaling appendix's exercises (solutions/A1_scaling_up.ipynb, ids exA1.N; the
chapter is notebooks/appendix_scaling.ipynb).

Each test receives the learner's notebook namespace `ns` and checks one behaviour on tiny inputs whose
answers are worked out by hand in the comments. Nothing here needs torchrun: the ranks are simulated in
one process.
"""

import math

import torch

from worldmodels.grading import exercise_test

# The tests hand the learner's functions only plain data (numbers, arrays, tensors), torch.nn.Linear models
# rebuilt there from their weights, and the loss functions defined below by name: the grader runs
# them in its own process and sends just the inputs to the learner's (worldmodels/grading/remote.py).
REMOTE = True


def _raises_value_error(func, *args, **kwargs):
    try:
        result = func(*args, **kwargs)
    except ValueError:
        return True, None
    return False, result


# exA1.1 shard_rows(batch_size, rank, world_size) -> a slice: contiguous shares in rank order, the first
# batch_size % world_size ranks keeping one row more.


def _rows(ns, batch_size, rank, world_size):
    """The row numbers the learner's slice picks out of a global batch of `batch_size` rows."""
    return torch.arange(batch_size)[ns["shard_rows"](batch_size, rank, world_size)].tolist()


@exercise_test("exA1.1", points=1, hint="When world_size divides batch_size, each rank keeps part = batch_size // world_size rows: slice(rank * part, (rank + 1) * part).")
def rows_by_hand(ns):
    # 16 rows, 2 ranks: 8 each; rank 0 keeps rows 0..7, rank 1 rows 8..15
    assert _rows(ns, 16, 0, 2) == list(range(0, 8)), f"expected rows 0..7 for rank 0 of 2 in a batch of 16, got {_rows(ns, 16, 0, 2)}"
    assert _rows(ns, 16, 1, 2) == list(range(8, 16)), f"expected rows 8..15 for rank 1 of 2 in a batch of 16, got {_rows(ns, 16, 1, 2)}"
    # 12 rows, 3 ranks: 4 each; rank 1 keeps rows 4, 5, 6, 7
    assert _rows(ns, 12, 1, 3) == [4, 5, 6, 7], f"expected rows [4, 5, 6, 7] for rank 1 of 3 in a batch of 12, got {_rows(ns, 12, 1, 3)}"


@exercise_test("exA1.1", points=1, hint="10 rows over 4 ranks: 3, 3, 2, 2 rows. Rank r starts at r * (batch_size // world_size) + min(r, batch_size % world_size).")
def uneven_shares_rebuild_the_batch(ns):
    # 10 rows over 4 ranks: rows 0-2, 3-5, 6-7, 8-9
    assert _rows(ns, 10, 2, 4) == [6, 7], f"expected rows [6, 7] for rank 2 of 4 in a batch of 10, got {_rows(ns, 10, 2, 4)}"
    for batch_size, world_size in ((10, 4), (12, 5), (7, 7), (130, 8), (12, 1)):
        shares = [_rows(ns, batch_size, rank, world_size) for rank in range(world_size)]
        part, extra = divmod(batch_size, world_size)
        sizes = [len(s) for s in shares]
        expected = [part + 1] * extra + [part] * (world_size - extra)
        assert sizes == expected, f"expected {world_size} ranks of a batch of {batch_size} to keep {expected} rows, got {sizes}"
        joined = sum(shares, [])
        assert joined == list(range(batch_size)), (
            f"expected ranks 0..{world_size - 1} of a batch of {batch_size} to keep contiguous rows that, side by side, "
            f"give rows 0..{batch_size - 1} once each, got {joined[:16]}{'...' if len(joined) > 16 else ''}")


@exercise_test("exA1.1", points=1, hint="Check world_size >= 1 first (0 must be a ValueError, not a ZeroDivisionError), then batch_size >= world_size, then 0 <= rank < world_size.")
def bad_shards_raise_value_error(ns):
    for args, why in (((3, 0, 4), "4 ranks cannot each keep a row of a batch of 3"),
                      ((16, 2, 2), "rank 2 does not exist among 2 ranks (0 and 1)"),
                      ((16, -1, 2), "rank -1 is not a rank"),
                      ((16, 0, 0), "0 ranks cannot train")):
        raised, result = _raises_value_error(ns["shard_rows"], *args)
        assert raised, f"expected a ValueError for shard_rows{args} ({why}), got {result!r}"


# exA1.2 averaged_gradient(model, loss_fn, batch, world_size): mean over ranks of the gradient of
# loss_fn(model, the rank's rows of every tensor of batch), flattened in model.parameters() order.


def _flat_gradient(model, loss):
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(model.parameters()))])


def _linear_problem():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    x, y = torch.randn(8, 3), torch.randn(8, 2)
    return model, (x, y)


def _mse_mean(model, batch):
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def _mse_sum(model, batch):
    x, y = batch
    return ((model(x) - y) ** 2).sum()


def _largest_output(model, batch):
    return model(batch[0]).max()


def _gradient_of(ns, model, loss_fn, batch, world_size):
    before = [p.detach().clone() for p in model.parameters()]
    got = ns["averaged_gradient"](model, loss_fn, batch, world_size)
    assert isinstance(got, torch.Tensor), f"expected a torch tensor, got {type(got).__name__}"
    assert all(torch.equal(b, p.detach()) for b, p in zip(before, model.parameters())), \
        "expected the model's weights to be unchanged: compute gradients only, take no optimiser step"
    return got.detach().flatten()


@exercise_test("exA1.2", points=1, hint="For each rank: model.zero_grad(), loss_fn(model, shard).backward(), then torch.cat([p.grad.flatten() for p in model.parameters()]); average over the ranks.")
def mean_loss_gives_the_whole_batch_gradient(ns):
    model, batch = _linear_problem()
    expected = _flat_gradient(model, _mse_mean(model, batch))  # 3 * 2 weights + 2 biases = 8 numbers
    for world_size in (1, 2, 4, 8):
        for p in model.parameters():  # stale gradients from an earlier step: backward() would add to them
            p.grad = torch.ones_like(p)
        got = _gradient_of(ns, model, _mse_mean, batch, world_size)
        assert got.shape == expected.shape, f"expected {expected.numel()} gradient numbers (a 1-D tensor), got shape {tuple(got.shape)}"
        assert torch.allclose(got, expected, atol=1e-6), (
            f"expected the whole batch's gradient {[round(v, 4) for v in expected.tolist()]} with {world_size} ranks "
            f"(a mean loss), got {[round(v, 4) for v in got.tolist()]}")


@exercise_test("exA1.2", points=1, hint="Rank r's shard is the same contiguous rows of every tensor of the batch: tuple(t[shard_rows(len(batch[0]), r, world_size)] for t in batch).")
def contiguous_shards_by_hand(ns):
    # y = w x with w = 1 and the loss max(y) over the shard: its gradient with respect to w is the x of the
    # largest row. x = 1, 2, 3, 4. One rank: 4. Two ranks [1, 2] and [3, 4]: (2 + 4) / 2 = 3 (interleaved
    # shards [1, 3] and [2, 4] would give 3.5). Four ranks, one row each: (1 + 2 + 3 + 4) / 4 = 2.5.
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    x = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    for world_size, expected in ((1, 4.0), (2, 3.0), (4, 2.5)):
        got = _gradient_of(ns, model, _largest_output, (x,), world_size)
        assert got.numel() == 1 and math.isclose(float(got[0]), expected, abs_tol=1e-6), (
            f"expected {expected} with {world_size} ranks of contiguous rows of x = [1, 2, 3, 4], got {got.tolist()}")


@exercise_test("exA1.2", points=1, hint="Average the ranks' gradients (divide their sum by world_size), as DDP does; a world_size that does not divide the batch is shard_rows' ValueError.")
def ranks_are_averaged_not_summed(ns):
    # A loss *summed* over rows: the shards' gradients add up to the whole batch's, so their mean is
    # the whole batch's gradient / world_size (why the course's losses are means over the batch).
    model, batch = _linear_problem()
    whole = _flat_gradient(model, _mse_sum(model, batch))
    for world_size in (2, 4):
        got = _gradient_of(ns, model, _mse_sum, batch, world_size)
        expected = whole / world_size
        assert got.shape == expected.shape and torch.allclose(got, expected, atol=1e-5), (
            f"expected the summed loss's whole-batch gradient / {world_size} with {world_size} ranks, "
            f"{[round(v, 3) for v in expected.tolist()]}, got {[round(v, 3) for v in got.flatten().tolist()]}")
    raised, result = _raises_value_error(ns["averaged_gradient"], model, _mse_mean, batch, 3)
    assert raised, f"expected a ValueError for 3 ranks on a batch of 8 rows, got {result!r}"


# exA1.3 scaled_learning_rate(base_lr, base_batch, batch, rule): base_lr * k ("linear") or base_lr * sqrt(k)
# ("sqrt"), k = batch / base_batch.


def _lr(ns, *args, **kwargs):
    return float(ns["scaled_learning_rate"](*args, **kwargs))


@exercise_test("exA1.3", points=1, hint="k = batch / base_batch; the linear rule (the default) returns base_lr * k.")
def linear_rule_by_hand(ns):
    # 128 -> 1024 rows: k = 8, 0.003 * 8 = 0.024; 128 -> 64: k = 1/2, 0.0015; same batch: unchanged
    for args, kwargs, expected in (((0.003, 128, 1024), {}, 0.024),
                                   ((0.003, 128, 64), {"rule": "linear"}, 0.0015),
                                   ((0.001, 32, 32), {}, 0.001)):
        got = _lr(ns, *args, **kwargs)
        assert math.isclose(got, expected, rel_tol=1e-9), f"expected {expected} for scaled_learning_rate{args} (linear), got {got}"


@exercise_test("exA1.3", points=1, hint='rule="sqrt" returns base_lr * math.sqrt(batch / base_batch).')
def sqrt_rule_by_hand(ns):
    # 128 -> 512: k = 4, sqrt 2, 0.006; 128 -> 1024: k = 8, 0.003 * 2.828... = 0.008485...; 400 -> 100: k = 1/4, 0.001
    for args, expected in (((0.003, 128, 512), 0.006),
                           ((0.003, 128, 1024), 0.003 * math.sqrt(8)),
                           ((0.002, 400, 100), 0.001)):
        got = _lr(ns, *args, rule="sqrt")
        assert math.isclose(got, expected, rel_tol=1e-9), f"expected {expected:.6g} for scaled_learning_rate{args} with rule='sqrt', got {got}"


@exercise_test("exA1.3", points=1, hint='Raise ValueError for a rule other than "linear" or "sqrt", and for base_lr, base_batch or batch <= 0.')
def bad_input_raises_value_error(ns):
    for args, kwargs, why in (((0.003, 128, 256), {"rule": "cubic"}, "an unknown rule"),
                              ((0.0, 128, 256), {}, "a learning rate of 0"),
                              ((-0.003, 128, 256), {"rule": "sqrt"}, "a negative learning rate"),
                              ((0.003, 128, 0), {}, "a batch of 0 rows"),
                              ((0.003, -128, 256), {"rule": "sqrt"}, "a negative base batch")):
        raised, result = _raises_value_error(ns["scaled_learning_rate"], *args, **kwargs)
        assert raised, f"expected a ValueError for {why}: scaled_learning_rate{args} {kwargs or ''}, got {result!r}"


# The package functions that answer each exercise: while its tests run in the grader they are
# unavailable to the learner's code (worldmodels/grading/answers.py). Empty: none answers it.
ANSWERS = {
    "exA1.1": (),  # training.shard_rows (which window_batches uses) refuses a batch the ranks do not divide evenly
    "exA1.2": (),  # no package function returns a gradient: training.train lets DDP average them inside backward
    "exA1.3": (),  # the appendix computes its scaled learning rates inline; training.learning_rate is the schedule
}
