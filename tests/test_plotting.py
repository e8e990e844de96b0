import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from worldmodels.plotting import COURSE_STYLE, show_frames, use_course_style


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
