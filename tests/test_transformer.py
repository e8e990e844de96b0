import math

import pytest
import torch

from worldmodels.transformer import GPT, GPTConfig, lm_loss, sample_from_logits


def small(**kw):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, **kw))


def test_output_shapes_and_loss():
    model = small()
    idx = torch.randint(0, 11, (3, 8))
    logits, loss = model(idx)
    assert logits.shape == (3, 8, 11) and loss is None
    logits, loss = model(idx[:, :5], idx[:, :5])
    assert logits.shape == (3, 5, 11) and loss.shape == ()


def test_lm_loss_is_the_models_own_loss_for_the_bigram_and_the_transformer():
    from worldmodels.bigram import NeuralBigram

    idx = torch.randint(0, 11, (3, 6), generator=torch.Generator().manual_seed(0))
    for model in (small(), NeuralBigram(11)):
        assert torch.equal(lm_loss(model, (idx[:, :-1], idx[:, 1:])), model(idx[:, :-1], idx[:, 1:])[1])
    assert math.isclose(lm_loss(NeuralBigram(11), (idx, idx)).item(), math.log(11), rel_tol=1e-6)


def test_causality_later_tokens_never_change_earlier_logits():
    model = small().eval()
    idx = torch.randint(0, 11, (2, 8))
    changed = idx.clone()
    changed[:, 5:] = (changed[:, 5:] + 3) % 11
    a, b = model(idx)[0], model(changed)[0]
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6)
    assert not torch.allclose(a[:, 5:], b[:, 5:])  # the later positions do see the change


def test_zeroed_output_layer_gives_log_v():
    model = small()
    torch.nn.init.zeros_(model.head.weight)
    idx = torch.randint(0, 11, (4, 8))
    loss = model(idx, idx)[1]
    assert math.isclose(loss.item(), math.log(11), rel_tol=1e-6)


def test_padding_targets_are_ignored():
    model = small().eval()
    idx = torch.randint(0, 11, (2, 6))
    targets = idx.clone()
    targets[:, 3:] = -1
    full_logits = model(idx)[0]
    expected = torch.nn.functional.cross_entropy(full_logits[:, :3].flatten(0, 1), idx[:, :3].flatten())
    assert torch.allclose(model(idx, targets)[1], expected)


def test_zero_temperature_is_argmax():
    logits = torch.randn(5, 11, generator=torch.Generator().manual_seed(1))
    assert torch.equal(sample_from_logits(logits, 0.0), logits.argmax(-1))
    g = torch.Generator().manual_seed(0)
    assert torch.equal(sample_from_logits(logits, 1e-4, generator=g), logits.argmax(-1))
    model = small().eval()
    start = torch.zeros(2, 1, dtype=torch.long)
    out = model.generate(start, 4, temperature=0)
    for t in range(1, 5):  # greedy: each token is the argmax given its prefix
        assert torch.equal(out[:, t], model(out[:, :t])[0][:, -1].argmax(-1))


def test_generate_is_seeded_and_respects_mask():
    model = small()
    start = torch.zeros(3, 1, dtype=torch.long)
    a = model.generate(start, 6, temperature=1.0, generator=torch.Generator().manual_seed(0))
    b = model.generate(start, 6, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert a.shape == (3, 7) and torch.equal(a, b)
    only_even = torch.arange(11) % 2 == 0
    c = model.generate(start, 6, temperature=1.0, allowed=lambda step: only_even)
    assert (c[:, 1:] % 2 == 0).all()


def test_generate_crops_long_context():
    model = small()
    out = model.generate(torch.zeros(1, 8, dtype=torch.long), 5, temperature=0)
    assert out.shape == (1, 13)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(vocab_size=5, block_size=4, n_head=3, n_embd=16)
    with pytest.raises(ValueError, match="vocab_size"):
        GPTConfig(vocab_size=0, block_size=4)
    model = small()
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="temperature"):
        sample_from_logits(torch.zeros(1, 3), -0.5)
