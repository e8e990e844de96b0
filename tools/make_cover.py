"""Regenerate the landing page's animation: `.venv/bin/python tools/make_cover.py` (make figures)."""

from pathlib import Path

from worldmodels.animation import video_gif
from worldmodels.data import CANONICAL, THREE_BALLS, make_split

one = make_split("train", n_sequences=2, n_frames=48, world=CANONICAL, seed=7)
three = make_split("train", n_sequences=1, n_frames=48, world=THREE_BALLS, seed=7)
gif = video_gif([one.frames[0], one.frames[1], three.frames[0]], ["1 ball", "1 ball", "3 balls"], scale=3, fps=12)
Path(__file__).resolve().parents[1].joinpath("book", "images", "cover.gif").write_bytes(gif)
print(f"wrote {len(gif)} bytes")
