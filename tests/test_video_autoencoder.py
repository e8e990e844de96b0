import numpy as np
import pytest
import torch

from worldmodels.data import make_split
from worldmodels.video_autoencoder import VideoAutoencoder, VideoAutoencoderConfig, autoencoder_loss, fit_line, unfold


def test_fit_line_and_unfold_recover_the_motion():
    v = make_split("val", 32, 16)
    start, vel = fit_line(v.positions[:, :, 0])
    assert np.abs(vel - v.velocities[:, 0, 0]).max() < 0.01
    u = unfold(v.positions[:, :, 0])
    steps = np.diff(u, axis=1)
    assert np.abs(steps - v.velocities[:, :1, 0]).max() < 0.02  # a straight line: every step the same


def test_shapes_ratio_and_errors():
    config = VideoAutoencoderConfig()
    assert config.compression_ratio == 16 * 32 * 32 / 32
    model = VideoAutoencoder(config)
    frames = torch.tensor(make_split("val", 3, 16).frames)
    z = model.encode(frames)
    assert z.shape == (3, 4, 8)
    out = model.decode(z)
    assert out.shape == (3, 16, 32, 32) and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError):
        model.encode(frames[:, :8])
    with pytest.raises(ValueError):
        model.decode(torch.zeros(3, 32))
    with pytest.raises(ValueError):
        VideoAutoencoderConfig(degree=0)


def test_a_few_steps_reduce_the_loss():
    torch.manual_seed(0)
    model = VideoAutoencoder(VideoAutoencoderConfig(hidden=64))
    tracks = model.unfold_keypoints(torch.tensor(make_split("val", 64, 16).frames))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = autoencoder_loss(model, (tracks,)).item()
    for _ in range(100):
        loss = autoencoder_loss(model, (tracks,))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first
