import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from worldmodels.plotting import COURSE_STYLE, plot_loss_curves, show_frames, use_course_style


def test_style_is_applied():
    use_course_style()
    assert matplotlib.rcParams["figure.dpi"] == COURSE_STYLE["figure.dpi"]


def test_show_frames_makes_one_axis_per_frame_and_hides_extra_ones():
    axes = show_frames(np.zeros((5, 8, 8)), ncols=3)
    assert len(axes) == 6
    assert len(axes[0].images) == 1
    assert not axes[5].axison


def test_show_frames_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        show_frames(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="titles"):
        show_frames(np.zeros((2, 8, 8)), titles=["one"])


def test_plot_loss_curves_draws_raw_smoothed_and_validation():
    from worldmodels.training import History

    history = History(steps=list(range(40)), train_loss=list(np.linspace(2, 1, 40)), val_steps=[0, 39], val_loss=[2.0, 1.1])
    ax = plot_loss_curves({"run": history, "plain": np.linspace(3, 2, 30)}, window=10, logy=True)
    assert len(ax.lines) == 5  # two raw, two smoothed, one set of validation points
    assert len(ax.lines[1].get_xdata()) == 31 and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="empty"):
        plot_loss_curves({})


def test_show_frames_labels_rows():
    axes = show_frames(np.zeros((6, 8, 8)), ncols=3, row_labels=["truth", "model"])
    assert axes[3].get_ylabel() == "model"
    with pytest.raises(ValueError, match="row labels"):
        show_frames(np.zeros((6, 8, 8)), ncols=3, row_labels=["one"])


def test_figure_png_records_the_sizes_a_reader_sees():
    """The inline PNG carries the narrowest plot and frame panels and the smallest legend text."""
    from worldmodels.plotting import figure_png, read_figure_sizes

    use_course_style()
    fig, axes = plt.subplots(1, 3, figsize=(6, 2))
    axes[0].plot([0, 1], [0, 1], label="a")
    axes[0].legend(fontsize=9)
    axes[1].plot([0, 1], [1, 0])
    axes[2].imshow(np.zeros((32, 32)))
    axes[2].axis("off")
    sizes = read_figure_sizes(figure_png(fig))
    plt.close(fig)
    assert sizes["width_px"] == 6 * COURSE_STYLE["figure.dpi"]
    assert sizes["frame_res"] == 32
    assert 0 < sizes["plot_px"] < 6 * 80 / 3 and 0 < sizes["frame_px"] < 6 * 80 / 3
    assert sizes["legend_px"] == round(9 * COURSE_STYLE["figure.dpi"] / 72, 1)


def test_read_figure_sizes_refuses_what_is_not_a_png():
    from worldmodels.plotting import read_figure_sizes

    with pytest.raises(ValueError, match="not a PNG"):
        read_figure_sizes(b"GIF89a")
