"""An object-centric world model: one slot per ball, an interaction network, a disc renderer.

    frames --heatmap--> soft k-means (slots tracked frame to frame) --> positions p_t (B, N, 2)
    last `context` positions --straight-line fit--> state s = (p, v) per object
    s --interaction network--> s' --> ... (K imagined steps)
    positions --disc renderer--> frames

- Encoder. A 5x5 convolution reweights the frame's intensity into a heatmap of "ball-ness" (weights
  = intensity x exp(learned correction), so it starts as the plain intensity). Weighted soft k-means on
  the heatmap gives one position per slot. The first frame starts from greedy far-apart bright pixels;
  every later frame starts from the previous positions moved by their last displacement, so slot i stays
  ball i across frames (tracking). No position label is ever used: positions are whatever makes the
  renderer reproduce the frame.
- State. Each object's velocity and position are read off its last `context` tracked positions: where they
  lie on a straight line (free flight), the least-squares line through the longest straight run of them that
  ends at the last frame (at least three positions; straight_fit); where they do not (a wall or a ball
  turned it in the last frames), the last position and the last displacement, unfolded at the walls when the
  last three positions show a bounce in between (unfolded_velocity). Nothing here is learned.
- Dynamics: an interaction network (Battaglia et al. 2016) that acts on contact. For every pair the model
  computes, from the pair's positions and velocities, whether the two balls come within a learned contact
  distance D during the coming frame (the closest approach of their straight flights), and if so at what
  time t_c and along which line of centres n_ij (at the touch). A pair that does not touch sends exactly
  nothing (the gate is a ramp `contact_width` px wide around D), so free flight is exact. A pair that
  touches pushes along n_ij with sizes f_rel learns from the touch (t_c and the relative velocity along and
  across n_ij; bounded to (-2, 2) by a tanh), scaled by the approach speed; the inputs are symmetric in i and j and n_ji = -n_ij, so
  pushes come in equal and opposite pairs (Newton's third law is built in, what a collision does is
  learned). Each object sums the messages of the other objects, so the same function serves any number of
  objects. Then the objects fly on and the box's walls reflect them exactly: the walls are built in, at the
  renderer's learned radius plus a learned margin from the edge.
      (dp_i, dv_i) = sum_j gate(d_min,ij) (v_ij . n_ij) f_rel(t_c, v_ij . n_ij, |v_ij x n_ij|) n_ij
      v' = v + dv,  p' = p + v' + dp,  then geometry.wall_step_torch(p', v')
  An exact elastic collision has sizes (t_c, -1): the velocities along n_ij swap at time t_c.
  D = 2 x the renderer's learned radius x exp(a learned correction), so it starts at the balls' drawn size.
- Decoder: a disc renderer with a learned radius and edge sharpness; the objects combine as
  1 - prod(1 - disc_i) (a soft "or").
- Losses, in two training stages (worldmodels.objects_training): render_loss redraws frames from their
  own tracked slots (fits the heatmap and the renderer); dynamics_loss is the multi-step rollout loss of
  chapter 5 in object space: imagine K steps from the context's slots and compare the imagined positions
  with the slots the encoder tracks in the true future frames, slot by slot, in px.

This file is the model and its losses, and the test cases that ask whether it acts on contact
(collision_case, case_splits; crowded_world for more balls than WorldConfig places); worldmodels.objects_training
trains it with training.train.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import CANONICAL, THREE_BALLS, BallVideos
from .geometry import wall_step_torch
from .physics import WorldConfig, check_count, simulate
from .physics import step as physics_step
from .render import render
from .validation import check_ball_visible, check_frames, check_horizon
from .world_model import mlp

# The diameter of the canonical world's ball, 6 px: the scale of the pair features' units in the docs (the
# model's own contact distance is learned, contact_distance).
PAIR_UNIT_PX = 2 * CANONICAL.radius


@dataclass(frozen=True)
class ObjectModelConfig:
    size: int = CANONICAL.size  # frames are size x size
    n_objects: int = 3  # slots used in training (and by default when predicting)
    context: int = 6  # positions the state estimate reads (the straight-line fit)
    heat_kernel: int = 5  # the heatmap convolution is heat_kernel x heat_kernel (odd)
    hidden: int = 128  # width of the interaction network's MLP
    kmeans_iters: int = 3  # soft k-means iterations per frame (the first frame gets twice as many)
    assign_px: float = 1.5  # softness of the pixel-to-slot assignment (px)
    speed_scale: float = 3.0  # px/frame: velocities are divided by it at the networks' inputs
    contact_width: float = 0.2  # px: the contact gate ramps from 1 to 0 over this width around the contact distance
    straight_px: float = 0.1  # px: positions within this of their least-squares line count as free flight

    def __post_init__(self):
        for name in ("size", "n_objects", "context", "heat_kernel", "hidden", "kmeans_iters"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.heat_kernel % 2 == 0:
            raise ValueError(f"heat_kernel must be odd (the heatmap keeps the frame's size), got {self.heat_kernel}")
        if self.context < 3:
            raise ValueError(f"context must be >= 3 (a velocity across a bounce needs three positions), got {self.context}")
        for name in ("assign_px", "speed_scale", "contact_width", "straight_px"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")


def _mlp(sizes: list[int]) -> nn.Sequential:
    """world_model.mlp whose last layer starts at zero: no push, the no-collision oracle's physics."""
    net = mlp(sizes)
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


def pairwise_sum(messages: torch.Tensor) -> torch.Tensor:
    """Sum of pairwise messages over the other objects: (..., N, N, D) with [i, j] the message from j to i
    -> (..., N, D). The diagonal (an object talking to itself) is left out."""
    n = messages.shape[-2]
    if messages.ndim < 3 or messages.shape[-3] != n:
        raise ValueError(f"messages must have shape (..., N, N, D), got {tuple(messages.shape)}")
    off = 1.0 - torch.eye(n, dtype=messages.dtype)
    return (messages * off[:, :, None]).sum(dim=-2)


def unfolded_velocity(positions: torch.Tensor, low, high) -> torch.Tensor:
    """Velocity leaving the last of three positions (..., 3, N, 2), a wall bounce in between accounted for
    (worldmodels.oracle.estimate_velocity in torch): per axis the candidates are the plain last step and the
    step mirrored at either wall; the one that, run two steps backwards with reflection, lands nearest the
    first position wins. -> (..., N, 2)."""
    p_first, p0, p1 = positions[..., 0, :, :], positions[..., 1, :, :], positions[..., 2, :, :]
    candidates = torch.stack([p1 - p0, p1 + p0 - 2 * high, p1 + p0 - 2 * low])  # (3, ..., N, 2)
    back, _ = wall_step_torch(p1 - 2 * candidates, torch.zeros_like(candidates), low, high)
    miss = (back - p_first).abs() + torch.tensor([0.0, 1e-6, 1e-6]).reshape(3, *[1] * p1.ndim)  # ties: no bounce
    miss = miss + 1e6 * (candidates.abs() > high - low)  # no ball crosses the whole box in one frame
    best = miss.argmin(dim=0, keepdim=True)
    return torch.gather(candidates, 0, best)[0]


def straight_fit(positions: torch.Tensor, tolerance: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Free flight read off a path: positions (..., C, N, 2), C >= 3 -> (position, velocity, straight), with
    position and velocity (..., N, 2) those of the least-squares line at the last frame through the longest
    run of m >= 3 last positions that all lie within `tolerance` px of their line, and straight (..., N) False
    where not even the last three do (position and velocity are then those of the last three)."""
    c = positions.shape[-3]
    if c < 3:
        raise ValueError(f"positions must have shape (..., C >= 3, N, 2), got {tuple(positions.shape)}")
    best_p = best_v = straight = None
    for m in range(3, c + 1):  # longer runs overwrite shorter ones where they are straight too
        run = positions[..., c - m :, :, :]
        t = torch.arange(m, dtype=positions.dtype) - (m - 1) / 2  # centred times
        t = t.reshape(m, 1, 1)
        mean = run.mean(dim=-3)
        v = (t * (run - mean.unsqueeze(-3))).sum(dim=-3) / (t**2).sum()
        p = mean + v * (m - 1) / 2
        ok = ((mean.unsqueeze(-3) + t * v.unsqueeze(-3) - run).norm(dim=-1).amax(dim=-2) < tolerance)  # (..., N)
        if best_p is None:
            best_p, best_v, straight = p, v, ok
        else:
            best_p = torch.where(ok.unsqueeze(-1), p, best_p)
            best_v = torch.where(ok.unsqueeze(-1), v, best_v)
            straight = straight | ok
    return best_p, best_v, straight


def contact(p: torch.Tensor, v: torch.Tensor, distance) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """When two balls flying straight from (p, v) (..., N, 2) come within `distance` px during one frame.
    -> (closest (..., N, N, 1): their closest approach within the frame, px; t (..., N, N, 1): the time of
    the touch in [0, 1] (of the closest approach where they do not touch); normal (..., N, N, 2): the unit
    line of centres at that time, from j to i). [i, j] is the pair seen from i; the diagonal is a far pair."""
    n = p.shape[-2]
    far = 1e3 * torch.eye(n, dtype=p.dtype)[..., None]  # an object never touches itself
    dp = p[..., :, None, :] - p[..., None, :, :] + far  # [i, j]: from j to i
    dv = v[..., :, None, :] - v[..., None, :, :]
    a = (dv * dv).sum(-1, keepdim=True).clamp_min(1e-9)
    h = (dp * dv).sum(-1, keepdim=True)
    t_close = (-h / a).clamp(0, 1)
    closest = torch.sqrt(((dp + t_close * dv) ** 2).sum(-1, keepdim=True) + 1e-12)
    c = (dp * dp).sum(-1, keepdim=True) - distance**2
    disc = h * h - a * c  # > 0: |dp + t dv| = distance has two real roots
    touch = (disc > 0) & (h < 0)  # approaching, and their line passes within reach
    # the first root, written c / (-h + sqrt(disc)) to avoid cancellation (as physics.step does)
    t_touch = c / (torch.sqrt(disc.clamp_min(1e-12)) - h).clamp_min(1e-6)
    t = torch.where(touch, t_touch, t_close).clamp(0, 1)
    at = dp + t * dv
    normal = at / torch.sqrt((at * at).sum(-1, keepdim=True) + 1e-12)
    return closest, t, normal


class ObjectModel(nn.Module):
    """Slots + interaction network + disc renderer. Shapes: frames (B, T, H, W) in [0, 1]; positions
    (B, [T,] N, 2) in px (x, y); velocities in px/frame."""

    def __init__(self, config: ObjectModelConfig = ObjectModelConfig()):
        super().__init__()
        self.config = c = config
        self.heat = nn.Conv2d(1, 1, c.heat_kernel, padding=c.heat_kernel // 2)
        nn.init.zeros_(self.heat.weight)
        nn.init.zeros_(self.heat.bias)
        self.f_rel = _mlp([3, c.hidden, c.hidden, 2])
        self.log_contact = nn.Parameter(torch.tensor(0.0))  # contact distance = 2 x radius x exp(log_contact)
        self.wall_margin = nn.Parameter(torch.tensor(0.0))  # px: the walls sit at the radius + this from each edge
        self.log_radius = nn.Parameter(torch.tensor(math.log(2.5)))
        self.log_sharpness = nn.Parameter(torch.tensor(math.log(2.0)))
        centres = torch.arange(c.size, dtype=torch.float32) + 0.5
        ys, xs = torch.meshgrid(centres, centres, indexing="ij")
        self.register_buffer("grid", torch.stack([xs.flatten(), ys.flatten()], dim=-1), persistent=False)  # (P, 2)

    # ------------------------------------------------------------------------------------ encoder

    def heatmap(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames (..., H, W) -> non-negative weights (..., H, W): intensity x exp(learned correction)."""
        s = self.config.size
        if frames.shape[-2:] != (s, s):
            raise ValueError(f"frames must end with ({s}, {s}), got {tuple(frames.shape)}")
        flat = frames.reshape(-1, 1, s, s)
        return (flat * torch.exp(self.heat(flat).clamp(-5, 5))).reshape(frames.shape)

    def _first_guess(self, weights: torch.Tensor, n: int) -> torch.Tensor:
        """Greedy start (B, P) -> (B, n, 2): the heaviest pixel, then the heavy pixel farthest from those chosen."""
        grid = self.grid
        near = torch.full_like(weights, float("inf"))
        score, picks = weights, []
        for _ in range(n):
            p = grid[score.argmax(dim=-1)]  # (B, 2)
            picks.append(p)
            near = torch.minimum(near, ((grid[None] - p[:, None]) ** 2).sum(-1))
            score = weights * near
        return torch.stack(picks, dim=1)

    def _kmeans(self, weights: torch.Tensor, start: torch.Tensor, iters: int) -> torch.Tensor:
        """Soft weighted k-means: weights (B, P), start (B, n, 2) -> positions (B, n, 2). A slot with no
        pixel near it keeps its position."""
        p = start
        for _ in range(iters):
            d2 = (self.grid**2).sum(-1) - 2 * p @ self.grid.T + (p**2).sum(-1, keepdim=True)  # (B, n, P)
            resp = torch.softmax(-d2 / (2 * self.config.assign_px**2), dim=1) * weights[:, None]
            mass = resp.sum(-1, keepdim=True)
            p = (resp @ self.grid + 1e-3 * p) / (mass + 1e-3)
        return p

    def track(self, frames: torch.Tensor, n_objects: int | None = None) -> torch.Tensor:
        """Frames (B, T, H, W) -> positions (B, T, N, 2), slot i following the same ball through the frames."""
        n = self.config.n_objects if n_objects is None else n_objects
        if frames.ndim != 4 or frames.shape[1] < 1:
            raise ValueError(f"frames must have shape (B, T, H, W), got {tuple(frames.shape)}")
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n_objects must be an integer >= 1, got {n!r}")
        weights = self.heatmap(frames).flatten(2)  # (B, T, P)
        low, high = 0.0, float(self.config.size)
        out = []
        for t in range(frames.shape[1]):
            if t == 0:
                start, iters = self._first_guess(weights[:, 0].detach(), n), 2 * self.config.kmeans_iters
            else:
                previous = out[-1] if t == 1 else 2 * out[-1] - out[-2]  # constant-velocity guess
                start, iters = previous.detach().clamp(low, high), self.config.kmeans_iters
            out.append(self._kmeans(weights[:, t], start, iters))
        return torch.stack(out, dim=1)

    def initial_state(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions of the context frames (B, C >= context, N, 2) -> (p, v) at the last one, (B, N, 2) each:
        the straight-line fit where the last positions lie on a line (straight_fit), else the last position
        and its last displacement, unfolded at the walls (unfolded_velocity)."""
        c = self.config
        if positions.ndim != 4 or positions.shape[1] < c.context:
            raise ValueError(f"positions must have shape (B, C >= {c.context}, N, 2), got {tuple(positions.shape)}")
        last = positions[:, -c.context :]  # (B, context, N, 2)
        p_fit, v_fit, straight = straight_fit(last, c.straight_px)
        keep = straight.unsqueeze(-1)
        return torch.where(keep, p_fit, last[:, -1]), torch.where(keep, v_fit, unfolded_velocity(last[:, -3:], *self.walls()))

    # ----------------------------------------------------------------------------------- dynamics

    def contact_distance(self) -> torch.Tensor:
        """The learned distance of centres at which two balls touch (px): twice the renderer's radius (no
        gradient into it from here) times a learned correction."""
        return 2 * self.log_radius.exp().detach() * self.log_contact.exp()

    def step(self, p: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One imagined frame for every object: (p, v) (B, N, 2) each -> (p', v').

        Pairs that touch during the frame (contact) push each other along their line of centres at the touch,
        with sizes the interaction network learns; pairs that do not touch send nothing. Then the objects fly
        on and the box's walls reflect them exactly (geometry.wall_step_torch), at the learned radius from a wall."""
        c = self.config
        distance = self.contact_distance()
        closest, t, normal = contact(p, v, distance)
        gate = ((distance - closest) / c.contact_width + 0.5).clamp(0, 1)  # 1 on contact, exactly 0 a little beyond
        dv = v[:, :, None] - v[:, None, :]
        radial = (dv * normal).sum(-1, keepdim=True) / c.speed_scale  # < 0: approaching
        across = dv / c.speed_scale - radial * normal
        tangential = torch.sqrt((across * across).sum(-1, keepdim=True) + 1e-12)
        # each pair pushes along its line of centres, equally and oppositely (the inputs are symmetric in i, j)
        sizes = 2 * torch.tanh(self.f_rel(torch.cat([t, radial, tangential], dim=-1)) / 2)  # bounded: no runaway pushes
        push = gate * radial * sizes  # (B, N, N, 2): (dp, dv) sizes
        update = c.speed_scale * torch.cat([pairwise_sum(push[..., :1] * normal), pairwise_sum(push[..., 1:] * normal)], dim=-1)
        v_new = v + update[..., 2:]
        return wall_step_torch(p + v_new + update[..., :2], v_new, *self.walls())

    def walls(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Where a ball's centre turns: the renderer's learned radius (no gradient flows into it from here) plus
        a learned margin (the dynamics loss's: the drawn radius and the bounce need not agree) from each edge."""
        turn = self.log_radius.exp().detach() + self.wall_margin
        return turn, self.config.size - turn

    def imagine(self, p: torch.Tensor, v: torch.Tensor, horizon: int) -> torch.Tensor:
        """Roll out `horizon` steps from (p, v) (B, N, 2) -> positions (B, horizon, N, 2)."""
        out = []
        for _ in range(horizon):
            p, v = self.step(p, v)
            out.append(p)
        return torch.stack(out, dim=1)

    # ----------------------------------------------------------------------------------- renderer

    def render(self, positions: torch.Tensor) -> torch.Tensor:
        """Positions (..., N, 2) -> frames (..., H, W) in [0, 1]: soft discs combined by a soft "or"."""
        s = self.config.size
        d = (self.grid - positions[..., None, :]).norm(dim=-1)  # (..., N, P)
        disc = torch.sigmoid(self.log_sharpness.exp() * (self.log_radius.exp() - d))
        frames = 1 - torch.prod(1 - disc, dim=-2)
        return frames.unflatten(-1, (s, s))

    @torch.no_grad()
    def predict(self, context: torch.Tensor, horizon: int, n_objects: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Context frames (B, C, H, W) -> (imagined frames (B, K, H, W), imagined positions (B, K, N, 2))."""
        context = check_frames(context, size=self.config.size, ndim=4, min_frames=self.config.context, name="context",
                               layout="(B, C, H, W)", dtype=np.float32, tensor=True)
        horizon = check_horizon(horizon)
        check_ball_visible(context)
        p, v = self.initial_state(self.track(context, n_objects))
        positions = self.imagine(p, v, horizon)
        return self.render(positions), positions


# ------------------------------------------------------------------------------------------------ the loss


def render_loss(model: ObjectModel, frames: torch.Tensor) -> torch.Tensor:
    """Stage 1 of training: redraw frames (B, T, H, W) from their own tracked slots. Binary cross-entropy
    summed over a frame's pixels, averaged over frames; trains the heatmap and the renderer."""
    recon = model.render(model.track(frames)).clamp(1e-6, 1 - 1e-6)
    return F.binary_cross_entropy(recon, frames, reduction="none").sum(dim=(-2, -1)).mean()


def dynamics_loss(model: ObjectModel, frames: torch.Tensor) -> torch.Tensor:
    """Stage 2 of training: the multi-step rollout loss in object space on windows (B, context + K, H, W).

    The encoder tracks the slots through the whole window (no gradient: the encoder is trained by
    render_loss); the dynamics imagines K steps from the first `context` frames' slots, and the loss is
    the mean distance in px (not squared) between imagined and tracked positions, slot by slot, over the
    K steps."""
    c = model.config.context
    if frames.ndim != 4 or frames.shape[1] <= c:
        raise ValueError(f"frames must have shape (B, context + K, H, W) with K >= 1, got {tuple(frames.shape)}")
    with torch.no_grad():
        tracked = model.track(frames)
    p, v = model.initial_state(tracked[:, :c])
    imagined = model.imagine(p, v, frames.shape[1] - c)
    return (imagined - tracked[:, c:]).norm(dim=-1).mean()


# ------------------------------------------------------------------------------- the evaluation adapter


def count_balls(frames, model: ObjectModel) -> np.ndarray:
    """How many balls each context shows, from its ink: frames (B, C, H, W) -> (B,) integers >= 1, the
    median over the frames of (total intensity / intensity of one rendered ball), rounded. A context that
    shows no ball raises a ValueError (there is nothing to count, and none is drawn into it)."""
    frames = check_frames(frames, size=model.config.size, ndim=4, name="context", layout="(B, C, H, W)",
                          dtype=np.float64)
    check_ball_visible(frames)
    with torch.no_grad():
        one = float(model.render(torch.full((1, 2), model.config.size / 2.0)).sum())
    return np.maximum(1, np.rint(np.median(frames.sum(axis=(-2, -1)), axis=1) / one)).astype(int)


def as_predictor(model: ObjectModel, n_objects: int | None = None):
    """Wrap a model as an evaluation-harness predictor (worldmodels.evaluation):
    predictor(context (B, C, H, W), actions or None, horizon K) -> frames (B, K, H, W), NumPy float32.

    The number of slots is `n_objects` when given, else counted from each context's ink (count_balls), so
    one model serves 1 to 5 balls. The model has no action input: nonzero pushes raise a ValueError."""

    def predict(context, actions, horizon: int) -> np.ndarray:
        model.eval()
        if actions is not None and np.any(np.asarray(actions)):
            raise ValueError("the object model takes no actions; evaluate it on a split made with with_actions=False")
        context = check_frames(context, size=model.config.size, ndim=4, name="context", layout="(B, C, H, W)",
                               dtype=np.float32)
        horizon = check_horizon(horizon)
        check_ball_visible(context)
        counts = np.full(len(context), n_objects) if n_objects is not None else count_balls(context, model)
        out = np.empty((len(context), horizon) + context.shape[2:], dtype=np.float32)
        for n in np.unique(counts):
            rows = np.flatnonzero(counts == n)
            frames, _ = model.predict(torch.from_numpy(context[rows]), horizon, int(n))
            out[rows] = frames.numpy()
        return out

    return predict


# ----------------------------------------------------------------------- test cases: contact, near, none

CASES = ("no_collision", "near_miss", "grazing", "head_on")
NEAR_MISS_PX = 7.5  # a near miss: two centres come within this distance (px) and do not touch
GRAZING = 0.97  # a grazing contact: impact parameter >= this fraction of the contact distance
HEAD_ON = 0.5  # a head-on contact: impact parameter < this fraction of the contact distance
QUIET_FRAMES = 6  # case_splits: the last context frames (as many as the model reads) are free flight


def collision_case(positions, velocities, world: WorldConfig, n_future: int, substeps: int = 20) -> dict[str, np.ndarray]:
    """What happens between the balls in the next `n_future` frames from states (B, N, 2) (px, px/frame) in
    `world`, found with the exact simulator in `substeps` steps per frame. -> {"case": (B,) one of CASES or
    "other", "closest": (B,) the closest approach of two centres in px, "contacts": (B,) how many pair
    contacts, "impact": (B,) the largest impact parameter of a contact as a fraction of the contact distance
    2 r (nan without contact)}.

    no_collision: no contact and no two centres within NEAR_MISS_PX; near_miss: no contact, closest approach
    between 2 r and NEAR_MISS_PX; grazing: exactly one contact, impact parameter >= GRAZING; head_on: exactly
    one contact, impact parameter < HEAD_ON; other: the rest (several contacts, or one in between)."""
    n_future = check_count("n_future", n_future)
    substeps = check_count("substeps", substeps)
    p, v = np.array(positions, dtype=np.float64), np.array(velocities, dtype=np.float64)
    b, n = p.shape[:2] if p.ndim == 3 else (0, 0)
    if p.ndim != 3 or p.shape != v.shape or p.shape[1:] != (world.n_balls, 2):
        raise ValueError(f"positions and velocities must have shape (B, n_balls={world.n_balls}, 2), got {p.shape}, {v.shape}")
    dt, d = 1.0 / substeps, 2 * world.radius
    i, j = np.triu_indices(n, k=1)
    closest = np.full(b, np.inf)
    contacts = np.zeros(b, dtype=int)
    impact = np.full(b, np.nan)
    for _ in range(n_future * substeps):
        dp, dv = p[:, j] - p[:, i], v[:, j] - v[:, i]  # (B, P, 2)
        a = np.maximum((dv * dv).sum(-1), 1e-12)
        h = (dp * dv).sum(-1)
        t_close = np.clip(-h / a, 0, dt)
        closest = np.minimum(closest, np.linalg.norm(dp + t_close[..., None] * dv, axis=-1).min(axis=1, initial=np.inf))
        # a contact in this substep: approaching and within reach of the closest approach (as physics.step finds it)
        c = (dp * dp).sum(-1) - d * d
        disc = h * h - a * c
        with np.errstate(invalid="ignore", divide="ignore"):
            t_hit = c / (-h + np.sqrt(np.maximum(disc, 0)))
        hit = (h < 0) & (disc >= 0) & (t_hit <= dt)
        perp = np.sqrt(np.maximum((dp * dp).sum(-1) - h * h / a, 0)) / d  # impact parameter / contact distance
        contacts += hit.sum(axis=1)
        impact = np.where(hit.any(axis=1), np.fmax(impact, np.where(hit, perp, -np.inf).max(axis=1)), impact)
        p, v = physics_step(p, v, world, dt=dt)
    case = np.full(b, "other", dtype=object)
    case[(contacts == 0) & (closest > NEAR_MISS_PX)] = "no_collision"
    case[(contacts == 0) & (closest <= NEAR_MISS_PX)] = "near_miss"
    case[(contacts == 1) & (impact >= GRAZING)] = "grazing"
    case[(contacts == 1) & (impact < HEAD_ON)] = "head_on"
    return {"case": case.astype(str), "closest": closest, "contacts": contacts, "impact": impact}


def case_splits(world: WorldConfig, n_per_case: int, n_context: int = 10, n_future: int = 10, seed: int = 0,
                max_pool: int = 65536) -> dict[str, BallVideos]:
    """Test videos of n_context + n_future frames sorted by what happens after the context (collision_case):
    case name -> BallVideos of up to `n_per_case` videos, for every name of CASES. In every one the last
    QUIET_FRAMES context frames are free flight (no touch, no two centres within NEAR_MISS_PX), so what is
    compared is the future alone, not how a start state is read after a collision. Drawn from the exact
    simulator in chunks of 2048 sequences (seeded by `seed`, a stream of its own) until every case is full or
    `max_pool` sequences were drawn; the rare grazing contacts set how many that takes."""
    n_per_case = check_count("n_per_case", n_per_case)
    n_context, n_future = check_count("n_context", n_context), check_count("n_future", n_future)
    quiet = min(QUIET_FRAMES, n_context)
    chunk = 2048
    picked = {name: [] for name in CASES}
    for index in range(max(1, max_pool // chunk)):
        traj = simulate(world, chunk, n_context + n_future, rng=np.random.default_rng([seed, 7, index]))
        found = collision_case(traj.positions[:, n_context - 1], traj.velocities[:, n_context - 1], world, n_future)["case"]
        if quiet > 1:  # the last context frames show free flight: the start state can be read off them exactly
            full = [name for name in CASES if sum(len(x[1]) for x in picked[name]) >= n_per_case]
            found[np.isin(found, full)] = "other"  # only the cases still open are checked (the costly part)
            rows = np.flatnonzero(found != "other")
            if rows.size:
                start = n_context - quiet
                before = collision_case(traj.positions[rows, start], traj.velocities[rows, start], world, quiet - 1)["case"]
                found[rows[before != "no_collision"]] = "other"
        for name in CASES:
            room = n_per_case - sum(len(x[1]) for x in picked[name])
            rows = np.flatnonzero(found == name)[:room]
            if rows.size:
                picked[name].append((traj, rows))
        if all(sum(len(x[1]) for x in picked[name]) >= n_per_case for name in CASES):
            break
    out = {}
    for name, parts in picked.items():
        if not parts:
            raise RuntimeError(f"no {name} sequence in {max_pool} draws: raise max_pool")
        positions = np.concatenate([t.positions[r] for t, r in parts])
        velocities = np.concatenate([t.velocities[r] for t, r in parts])
        actions = np.concatenate([t.actions[r] for t, r in parts])
        out[name] = BallVideos(render(positions, world.radius, world.size), positions, velocities, actions, world)
    return out


def crowded_world(n_balls: int, base: WorldConfig = THREE_BALLS) -> WorldConfig:
    """`base` with `n_balls` balls, for evaluation, even where WorldConfig refuses that many.

    WorldConfig's limit is a comfort rule of its placement by rejection sampling, (n - 1) pi (2 r)^2 <= 0.75
    (size - 2 r)^2: five balls of radius 3 px in the 32 px box. The box holds many more (the placement still
    succeeds with a dozen), so this builds the config without that check: simulate, make_split and render run
    with it as with any other. It refuses what cannot work (fewer than one ball, a ball wider than the box)."""
    n_balls = check_count("n_balls", n_balls)
    try:
        return dataclasses.replace(base, n_balls=n_balls)
    except ValueError as error:
        if "fit comfortably" not in str(error):
            raise
    world = object.__new__(WorldConfig)  # every other check of WorldConfig passed for `base`
    for field in dataclasses.fields(WorldConfig):
        object.__setattr__(world, field.name, n_balls if field.name == "n_balls" else getattr(base, field.name))
    return world
