"""A latent action model: a world model that learns its own buttons from videos without action labels.

    frames t-2 .. t+1 --action encoder--> e --quantise--> code c in {0 .. codes-1}, its vector q_c
    frames t-2 .. t  +  q_c --dynamics--> frame t+1 --> (fed back) --> frame t+2 --> ...

- The glide (`glide=True`): where the ball goes next if nothing pushes it. It reads where the ink is in each
  past frame (the centre of mass of the pixels, a fixed linear read-out: the ball's centre for one ball),
  carries the centre at t on by the ball's velocity and, with `walls=True`, reflects it at the box's walls
  (the centre stays `radius` px from the edges). The box is BUILT IN, a prior the model is given: what it
  learns is the agent's push. A last move may itself have bounced off a wall; with three past frames the
  glide reads it both ways and keeps the reading whose speed before the wall matches the move before.
- The action encoder sees the frame after the step. With the glide it reads the surprise: where the ink is
  at t+1 minus where the glide put it (mirrored back at a wall the glide met, so a push reads the same at a
  wall as in the open); a small MLP turns it into a continuous vector e. Without the glide it reads the
  centre at t, the moves and how each move changed.
- The quantiser snaps e to one of `codes` vectors and passes the gradient straight through (Bengio et al.
  2013): q_st = e + (q - e).detach(). "vq": the nearest of `codes` learned vectors (van den Oord et al.
  2017) with the codebook and commitment terms and a restart of unused codes; "simplex" (the chapter's):
  softmax(e) snapped to the nearest one-hot vector, i.e. its largest entry, with a restart of codes that are
  (almost) never chosen; "fsq": every number of tanh(e) rounded to a few levels (Mentzer et al. 2024).
- The dynamics works like chapter 4's next-frame model (worldmodels.next_frame): every 4x4 block of pixels
  of the past frames and of the glide (frame t moved on to the glide's target) is folded into the channels
  of one cell of a coarse 8x8 grid and 3x3 convolutions mix neighbouring cells; the code enters as constant
  input channels. The convolutions only correct the glide (for a push), so the code is not needed to fix
  the ball's own motion. The dynamics never sees frame t+1: whatever the past cannot tell must come through
  the code. Rolled out, it feeds its own frames back in, as chapter 2's model feeds back its tokens.
- The loss: the dynamics rolls `K` steps from true past frames with the codes the action encoder inferred
  from the true frames; binary cross-entropy of each predicted frame (chapter 5's frame_loss), plus the
  quantiser's term (none for the chapter's simplex: a term asking for equal shares of the codes would spread
  the no-push steps, most of the data, over all codes). A handful of codes carries only a few bits: the code
  can explain only what the past cannot, the push of the unseen agent.

`as_predictor(model)` plugs the model into the evaluation harness: it maps each true push to the code the
model's `push_codes` table names (filled after training from labelled held-out clips, see
worldmodels.latent_actions_training.attach_mapping), so labels are used only to measure, never to train.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .validation import check_frames, check_horizon
from .world_model import frame_loss, mlp

# The hidden pushes of the chapter's videos, class index -> unit direction (dx, dy); y points down.
PUSH_NAMES = ("no push", "→", "←", "↓", "↑")
PUSH_DIRECTIONS = np.array([(0.0, 0.0), (1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)])


@dataclass(frozen=True)
class LatentActionConfig:
    size: int = 32  # frames are size x size
    past: int = 3  # frames the dynamics reads (2: the past holds the velocity; 3: and tells a bounce from a push)
    channels: int = 64  # channels of the dynamics' convolutions
    layers: int = 4  # 3x3 convolutions of the dynamics
    patch: int = 4  # side of the pixel blocks folded into channels
    codes: int = 5  # how many latent actions (the codebook's size; with "fsq" the product of the levels)
    code_dim: int = 5  # size of a code's vector, the dynamics' action input ("simplex": codes; "fsq": len(levels))
    quantiser: str = "simplex"  # "vq": a learned codebook; "simplex": softmax(e) snapped to the nearest one-hot
    # vector (code_dim = codes); "fsq": each number rounded to one of `levels` values
    levels: tuple[int, ...] = ()  # "fsq" only: odd numbers of levels per dimension, e.g. (3, 3): 9 codes
    action_hidden: int = 64  # hidden units of the action encoder's MLP
    commitment: float = 0.25  # "vq": weight of the commitment term within the quantiser's loss
    vq_weight: float = 0.0  # weight of the quantiser's term next to the frame loss (a frame's BCE summed over pixels):
    # "simplex": a term for spreading the choices over all codes (0: none; dead codes are restarted instead);
    # "vq": the codebook and commitment terms (use > 0)
    glide: bool = True  # also hand the dynamics frame t moved on by the ball's velocity (needs past >= 2)
    walls: bool = True  # the glide knows the box: the ball reflects off its walls (False: it glides through them)
    radius: float = 3.0  # the ball's radius in px (walls=True): its centre bounces at radius and size - radius

    def __post_init__(self):
        for name in ("size", "past", "channels", "layers", "patch", "codes", "code_dim", "action_hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.size % self.patch:
            raise ValueError(f"size {self.size} must be a multiple of patch {self.patch}")
        if self.layers < 2:
            raise ValueError(f"layers must be >= 2 (an input and an output convolution), got {self.layers}")
        if self.codes < 2:
            raise ValueError(f"codes must be >= 2 (one code explains nothing), got {self.codes}")
        if self.quantiser not in ("vq", "simplex", "fsq"):
            raise ValueError(f"quantiser must be 'vq', 'simplex' or 'fsq', got {self.quantiser!r}")
        if self.glide and self.past < 2:
            raise ValueError("glide needs past >= 2 (two frames tell the last move); use glide=False with past=1")
        if self.quantiser == "simplex" and self.code_dim != self.codes:
            raise ValueError(f"the simplex quantiser needs code_dim = codes ({self.codes}), got {self.code_dim}")
        if self.quantiser == "fsq":
            levels = tuple(self.levels)
            if not levels or any(isinstance(n, bool) or not isinstance(n, int) or n < 3 or n % 2 == 0 for n in levels):
                raise ValueError(f"fsq needs levels: odd integers >= 3, e.g. (3, 3), got {self.levels!r}")
            if self.codes != int(np.prod(levels)) or self.code_dim != len(levels):
                raise ValueError(f"with levels {levels}, codes must be {int(np.prod(levels))} and code_dim {len(levels)}, "
                                 f"got codes={self.codes}, code_dim={self.code_dim}")
        if isinstance(self.radius, bool) or not isinstance(self.radius, (int, float)) or not 0 < self.radius < self.size / 2:
            raise ValueError(f"radius must be a number in (0, size / 2), got {self.radius!r}")
        for name in ("commitment", "vq_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")


def quantise(e: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Vector quantisation with a straight-through gradient: e (..., d), codebook (K, d) ->
    (q_st (..., d): the nearest code's vector forward, the identity backward; index (...,) of that code)."""
    if e.shape[-1] != codebook.shape[-1]:
        raise ValueError(f"e (..., {e.shape[-1]}) and codebook (K, {codebook.shape[-1]}) must share their last size")
    index = torch.cdist(e.reshape(-1, e.shape[-1]), codebook).argmin(dim=-1).reshape(e.shape[:-1])
    q = codebook[index]
    return e + (q - e).detach(), index


def fsq_grid(levels) -> torch.Tensor:
    """Every code of finite scalar quantisation with these (odd) levels per dimension: (prod(levels), len(levels))
    in [-1, 1], code i = the mixed-radix digits of i (the last dimension fastest)."""
    axes = [torch.linspace(-1, 1, n) for n in levels]
    return torch.cartesian_prod(*axes).reshape(-1, len(levels))


def fsq_quantise(e: torch.Tensor, levels) -> tuple[torch.Tensor, torch.Tensor]:
    """Finite scalar quantisation with a straight-through gradient: squash each number of e (..., d) into
    (-1, 1) with tanh and round it to one of levels[i] evenly spaced values. Returns (q_st (..., d), code
    index (...,), the index into fsq_grid(levels))."""
    half = torch.tensor([(n - 1) / 2 for n in levels], dtype=e.dtype)
    z = torch.tanh(e) * half
    rounded = torch.round(z)
    q_st = (z + (rounded - z).detach()) / half
    digits = (rounded + half).long()
    index = torch.zeros(e.shape[:-1], dtype=torch.long)
    for i, n in enumerate(levels):
        index = index * n + digits[..., i]
    return q_st, index


class LatentActionModel(nn.Module):
    """Action encoder + codebook + a code-conditioned dynamics in pixel space.
    Shapes: frames (B, T, H, W) in [0, 1]; codes (B, T') integers in [0, codes)."""

    def __init__(self, config: LatentActionConfig = LatentActionConfig()):
        super().__init__()
        self.config = c = config
        p2, cells = c.patch**2, (c.size // c.patch) ** 2
        # where the ink is in each frame (its centre of mass, a fixed linear read-out of the pixels), then an MLP
        # that compares those points across the frames
        n_in = 2 if c.glide else 4 * c.past  # the surprise; or centre, moves and their changes
        self.action_encoder = mlp([n_in, c.action_hidden, c.action_hidden, c.code_dim])
        self.register_buffer("grid", (torch.arange(c.size, dtype=torch.float32) + 0.5) / 4, persistent=False)
        if c.quantiser == "vq":
            self.codebook = nn.Parameter(torch.randn(c.codes, c.code_dim) * 0.1)
        elif c.quantiser == "simplex":  # fixed: the corners of the simplex, one-hot vectors
            self.register_buffer("codebook", torch.eye(c.codes))
        else:  # fixed: the grid of rounded values
            self.register_buffer("codebook", fsq_grid(c.levels))
        layers = [nn.Conv2d((c.past + c.glide) * p2 + c.code_dim, c.channels, 3, padding=1), nn.ReLU()]
        for _ in range(c.layers - 2):
            layers += [nn.Conv2d(c.channels, c.channels, 3, padding=1), nn.ReLU()]
        self.dynamics = nn.Sequential(*layers, nn.Conv2d(c.channels, p2, 3, padding=1))
        # push class (PUSH_DIRECTIONS) -> code; -1 until measured on labelled held-out clips
        self.register_buffer("push_codes", torch.full((len(PUSH_DIRECTIONS),), -1, dtype=torch.long))

    def _check(self, frames: torch.Tensor, least: int) -> None:
        check_frames(frames, size=self.config.size, ndim=4, min_frames=least)

    def propose(self, frames: torch.Tensor) -> torch.Tensor:
        """The action encoder's continuous proposals for the step into every frame after the first `past`:
        frames (B, T > past, H, W) -> (B, T - past, code_dim); proposal i reads frames i .. i + past.
        With the glide it reads the surprise: where the ink is at t+1 minus where the glide put it (with
        walls=True mirrored back at a wall the glide met, so a push reads the same there as in the open).
        Without the glide it reads frame t's centre, the moves faintly and how each move changed strongly."""
        c = self.config
        p = c.past
        self._check(frames, p + 1)
        if c.glide:
            windows = frames.unfold(1, p + 1, 1).permute(0, 1, 4, 2, 3)  # (B, T - p, p + 1, H, W)
            flat = windows.flatten(0, 1)
            _, target, beyond = self.glide_target(flat[:, :p])
            seen = 4 * self.ink_centres(flat[:, p:])[:, 0]  # px
            surprise = unfold_walls(seen, beyond, self._walls()) - target  # a push: about 1 px its way
            return self.action_encoder(2 * surprise.unflatten(0, windows.shape[:2]))
        points = self.ink_centres(frames)  # (B, T, 2)
        moves = 4 * (points[:, 1:] - points[:, :-1])  # (B, T - 1, 2): how far the ink moved between frames, px
        centre = points[:, p - 1 : -1] / (c.size / 8) - 1  # frame t's centre, scaled to [-1, 1]
        # the moves enter faintly (/4, about +-1) and their changes strongly (x2): at the start of training the
        # codes then split the steps by how the motion changed, not by where the ball heads
        parts = [centre, moves.unfold(1, p, 1).flatten(2) / 4]
        if p > 1:
            changes = moves[:, 1:] - moves[:, :-1]
            parts.append(2 * changes.unfold(1, p - 1, 1).flatten(2))
        return self.action_encoder(torch.cat(parts, dim=2))

    def _walls(self) -> tuple[float, float] | None:
        c = self.config
        return (c.radius, c.size - c.radius) if c.walls else None

    def ink_centres(self, frames: torch.Tensor) -> torch.Tensor:
        """The centre of mass of each frame's ink, (x, y) in px / 4: frames (B, T, H, W) -> (B, T, 2)."""
        weights = frames / frames.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-6)
        x = (weights.sum(-2) * self.grid).sum(-1)
        y = (weights.sum(-1) * self.grid).sum(-1)
        return torch.stack([x, y], dim=-1)

    @torch.no_grad()
    def infer_codes(self, frames: torch.Tensor) -> torch.Tensor:
        """The discovered action of every step: frames (B, T, H, W) -> codes (B, T - past); code i explains
        the step from frame i + past - 1 to frame i + past."""
        return self.quantise(self.propose(frames))[1]

    def quantise(self, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's quantiser: proposals e (..., code_dim) -> (q_st (..., code_dim), code index (...,))."""
        if self.config.quantiser == "fsq":
            return fsq_quantise(e, self.config.levels)
        if self.config.quantiser == "simplex":
            return quantise(torch.softmax(e, dim=-1), self.codebook)
        return quantise(e, self.codebook)

    def code_vectors(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (...) integers in [0, codes) -> their vectors (..., code_dim), the dynamics' action input."""
        codes = torch.as_tensor(codes, dtype=torch.long)
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.config.codes):
            raise ValueError(f"codes must be in 0..{self.config.codes - 1}, got {codes.min().item()}..{codes.max().item()}")
        return self.codebook[codes]

    def step_logits(self, past: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """One step: the last `past` frames (B, past, H, W) and a code vector (B, code_dim) -> logits of the next frame (B, H, W)."""
        c = self.config
        if c.glide:
            past = torch.cat([past, self.glide(past)[:, None]], dim=1)
        cells = F.pixel_unshuffle(past, c.patch)  # (B, past p^2, H/p, W/p)
        code = action[:, :, None, None].expand(-1, -1, *cells.shape[2:])  # the code: constant input channels
        return F.pixel_shuffle(self.dynamics(torch.cat([cells, code], dim=1)), c.patch)[:, 0]

    def glide_target(self, past: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Where the ball goes next if nothing pushes it: past frames (B, >= 2, H, W) -> (its centre at t,
        its glide target at t+1 unfolded, i.e. as if the walls were not there, and which way that target lies
        beyond a wall: -1, 0 or +1 per axis), each (B, 2) in px. The velocity at t is the last move; with
        walls=True and three past frames, a last move that may have bounced off a wall is read both ways and
        the reading whose speed before the wall is closer to the move before is kept."""
        ink = (past[:, -3:] - 0.2).clamp_min(0)  # faint imagined pixels do not pull the centre
        points = 4 * self.ink_centres(ink)  # (B, <= 3, 2) px
        now, before = points[:, -1], points[:, -2]
        velocity = now - before
        walls = self._walls()
        if walls is None:
            return now, now + velocity, torch.zeros_like(now)
        if points.shape[1] >= 3:  # a wall may have turned the last move: u = the speed before it, -u after
            earlier = before - points[:, -3]
            best = (velocity - earlier).abs()
            for wall, side in zip(walls, (-1.0, 1.0)):
                u = 2 * wall - now - before  # bounced at this wall: now = 2 wall - (before + u)
                possible = (before + u - wall) * side > 0
                cost = torch.where(possible, (u - earlier).abs(), torch.full_like(u, math.inf))
                take = cost < best
                best, velocity = torch.where(take, cost, best), torch.where(take, -u, velocity)
        target = now + velocity
        beyond = (target > walls[1]).float() - (target < walls[0]).float()
        return now, target, beyond

    def glide(self, past: torch.Tensor) -> torch.Tensor:
        """Frame t moved on to the glide target (glide_target, reflected at the walls when walls=True): where
        the ball would be if nothing pushed it. past (B, >= 2, H, W) -> (B, H, W)."""
        now, target, beyond = self.glide_target(past)
        walls = self._walls()
        if walls is not None:
            target = unfold_walls(target, beyond, walls)  # reflect back into the box
        move = (target - now) * 2 / self.config.size  # in grid units ([-1, 1] spans the frame)
        theta = torch.zeros(past.shape[0], 2, 3, dtype=past.dtype)
        theta[:, 0, 0] = theta[:, 1, 1] = 1
        theta[:, :, 2] = -move
        grid = F.affine_grid(theta, (past.shape[0], 1, *past.shape[2:]), align_corners=False)
        return F.grid_sample(past[:, -1:], grid, align_corners=False)[:, 0]

    def rollout_logits(self, past: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Roll the dynamics open loop, feeding back its own frames: past frames (B, past, H, W), code vectors
        (B, K, code_dim) -> logits (B, K, H, W)."""
        out = []
        for k in range(actions.shape[1]):
            logits = self.step_logits(past, actions[:, k])
            out.append(logits)
            past = torch.cat([past[:, 1:], torch.sigmoid(logits)[:, None]], dim=1)
        return torch.stack(out, dim=1)

    @torch.no_grad()
    def play(self, context: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Press buttons: context frames (B, C >= past, H, W) and codes (B, K) -> imagined frames (B, K, H, W)."""
        context = torch.as_tensor(context, dtype=torch.float32)
        self._check(context, self.config.past)
        codes = torch.as_tensor(codes, dtype=torch.long)
        if codes.ndim != 2 or codes.shape[0] != context.shape[0]:
            raise ValueError(f"codes must have shape (B={context.shape[0]}, K), got {tuple(codes.shape)}")
        return torch.sigmoid(self.rollout_logits(context[:, -self.config.past :], self.code_vectors(codes)))


def unfold_walls(points: torch.Tensor, beyond: torch.Tensor, walls) -> torch.Tensor:
    """Mirror points (..., 2) at the wall each axis lies beyond (beyond: -1 the low wall, +1 the high, 0
    none): maps a glide target beyond a wall to where the bounce puts it, and a seen position back to the
    side the glide target is on, so a push reads the same at a wall as in the open."""
    if walls is None:
        return points
    low, high = walls
    return torch.where(beyond > 0, 2 * high - points, torch.where(beyond < 0, 2 * low - points, points))


# ------------------------------------------------------------------------------------------------ the loss


def latent_action_loss(model: LatentActionModel, frames: torch.Tensor) -> torch.Tensor:
    """Frame loss of a K-step rollout driven by the inferred codes + the quantiser's term, on windows
    frames (B, past + K, H, W): no labels anywhere. In training mode dead codes are restarted, so every code
    stays in play: "vq" moves a code no proposal of the batch chose onto the proposal the codes fit worst;
    "simplex" hands a code chosen for under 1 % of the recent steps the scores of the busiest code."""
    p = model.config.past
    model._check(frames, p + 1)
    if model.training and model.config.quantiser == "simplex":
        restart_dead_choices(model)  # before the forward pass: the weights it moves are then not yet in use
    e = model.propose(frames)  # (B, K, code_dim): the steps into frames past .. past + K - 1
    q_st, index = model.quantise(e)
    logits = model.rollout_logits(frames[:, :p], q_st)
    # chapter 5's frame_loss, kept per step: BCE summed over each frame's pixels
    step_losses = F.binary_cross_entropy_with_logits(logits, frames[:, p:], reduction="none").sum(dim=(-2, -1))
    vq = e.new_zeros(())
    if model.config.quantiser == "simplex":  # optional: the batch's mean choice should spread over the codes
        usage = torch.softmax(e, dim=-1).flatten(0, -2).mean(0)
        vq = math.log(model.config.codes) + (usage * usage.clamp_min(1e-8).log()).sum()
        if model.training:
            count_choices(model, index, step_losses.detach())
    if model.config.quantiser == "vq":
        q = model.codebook[index]
        vq = F.mse_loss(q, e.detach()) + model.config.commitment * F.mse_loss(e, q.detach())
        if model.training:
            restart_dead_codes(model.codebook, e.detach(), index)
    return step_losses.mean() + model.config.vq_weight * vq


@torch.no_grad()
def count_choices(model: LatentActionModel, index: torch.Tensor, losses: torch.Tensor | None = None,
                  memory: float = 0.98) -> torch.Tensor:
    """Update the running share of each code among the steps of the last training batches and, given the
    steps' losses (shaped like index), each code's running mean loss (for restart_dead_choices); returns the share."""
    n = model.config.codes
    counts = torch.bincount(index.reshape(-1), minlength=n).float()
    share = counts / index.numel()
    running = getattr(model, "_code_share", None)
    model._code_share = share if running is None else memory * running + (1 - memory) * share
    if losses is not None:
        total = torch.zeros(n).index_add_(0, index.reshape(-1), losses.reshape(-1).float())
        mean = torch.where(counts > 0, total / counts.clamp_min(1), torch.zeros(n))
        old = getattr(model, "_code_loss", None)
        if old is None:
            model._code_loss = mean
        else:  # codes absent from this batch keep their running loss
            model._code_loss = torch.where(counts > 0, memory * old + (1 - memory) * mean, old)
    return model._code_share


@torch.no_grad()
def restart_dead_choices(model: LatentActionModel, floor: float = 0.01) -> int:
    """The simplex quantiser's dead-code restart: a code chosen for less than `floor` of the recent steps
    (count_choices) gets the scores of the worst-fitting code (the highest running mean loss of its steps;
    without losses counted, the busiest code), plus a little noise, in the action encoder's last layer, so
    that the two split that code's steps and training pulls them apart. Returns how many codes were
    restarted. Without it a code that loses at the start is never chosen again, and one code must serve two pushes."""
    running = getattr(model, "_code_share", None)
    if running is None:
        return 0
    last = model.action_encoder[-1]
    dead = (running < floor).nonzero().flatten().tolist()
    losses = getattr(model, "_code_loss", None)
    for code in dead:
        alive = running >= floor
        if losses is not None and alive.any():
            donor = int(torch.where(alive, losses, torch.full_like(losses, -math.inf)).argmax())
        else:
            donor = int(running.argmax())
        last.weight[code] = last.weight[donor] + 0.01 * torch.randn_like(last.weight[donor])
        last.bias[code] = last.bias[donor]
        running[code] = running[donor] = running[donor] / 2
        if losses is not None:
            losses[code] = losses[donor]
    return len(dead)


@torch.no_grad()
def restart_dead_codes(codebook: torch.Tensor, e: torch.Tensor, index: torch.Tensor) -> int:
    """Move every code that no proposal chose onto the proposals the codes fit worst (in place); returns
    how many were moved. Without it a code that starts far from the data may never be chosen again."""
    flat, chosen = e.reshape(-1, e.shape[-1]), index.reshape(-1)
    dead = [k for k in range(codebook.shape[0]) if not (chosen == k).any()]
    if dead:
        misfit = (flat - codebook[chosen]).pow(2).sum(-1)
        worst = misfit.argsort(descending=True)[: len(dead)]
        codebook.data[dead] = flat[worst]
    return len(dead)


# ------------------------------------------------------------------------------- pushes and the harness


def push_classes(actions, min_size: float = 1e-6) -> np.ndarray:
    """The class (index into PUSH_DIRECTIONS) of each push (..., 2): 0 for no push, else the nearest direction."""
    a = np.asarray(actions, dtype=np.float64)
    if a.ndim < 1 or a.shape[-1] != 2:
        raise ValueError(f"actions must have shape (..., 2), got {a.shape}")
    nearest = (a @ PUSH_DIRECTIONS[1:].T).argmax(-1) + 1
    return np.where(np.linalg.norm(a, axis=-1) > min_size, nearest, 0)


def as_predictor(model: LatentActionModel):
    """Wrap a model as an evaluation-harness predictor (worldmodels.evaluation):
    predictor(context (B, C, H, W), actions (B, C + K, 2) or None, horizon K) -> frames (B, K, H, W).
    Each true push of frames C-1 .. C+K-2 is mapped to its class and on to the code `model.push_codes`
    names (no pushes: the no-push code); the model never sees the push itself."""
    if int(model.push_codes.min()) < 0:
        raise ValueError("the model's push_codes are not measured yet: run latent_actions_training.attach_mapping")

    def predict(context, actions, horizon: int) -> np.ndarray:
        model.eval()
        horizon = check_horizon(horizon)
        context = check_frames(context, size=model.config.size, ndim=4, min_frames=model.config.past, name="context",
                               layout="(B, C, H, W)", dtype=np.float32, tensor=True)
        b, c = context.shape[:2]
        if actions is None:
            classes = np.zeros((b, horizon), dtype=np.int64)
        else:
            actions = np.asarray(actions, dtype=np.float64)
            if actions.shape[:2] != (b, c + horizon):
                raise ValueError(f"actions must have shape (B, C + K, 2) = {(b, c + horizon, 2)}, got {actions.shape}")
            classes = push_classes(actions[:, c - 1 : c - 1 + horizon])
        codes = model.push_codes[torch.as_tensor(classes)]
        return model.play(context, codes).numpy()

    return predict
