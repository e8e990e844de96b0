"""Measurement of a candidate generator for chapter 9's second edition: masked discrete diffusion over track tokens,
frame by frame. Not used by the chapter yet; the chapter's generator is worldmodels.track_generation.

    python bench/frame_tokens.py                  # train 3000 steps on one thread, judge on the test split (w = 3)
    python bench/frame_tokens.py --steps 1000 --threads 2 --save /tmp/frame_tokens.pt
    python bench/frame_tokens.py --load /tmp/frame_tokens.pt   # measure stored weights

The design, and what is built in:
- A clip is tokens, one per ball per frame, each a pair of classes (x, y): in frame 0 the ball's position on a grid of
  q px (0.1), in every later frame its step from the frame before on the same grid (within +-5 px), or "absent".
  The decoder only sums the steps from the first position and draws discs (no law is built in: a bounce, a collision,
  a ball that stays put or leaves the box are all tokens like any other).
- A transformer (adaLN blocks conditioned on the prompt's bag of words, the words also as tokens) sees the clip's
  tokens with block-causal attention: a frame's tokens see the words, their own frame and earlier frames. Each token
  is also given what the tokens before it say about its ball: the ball's token one frame earlier (its previous step)
  and the position that the steps so far sum to, with its distances to the turning lines. These are sums of earlier
  tokens, computed for the network.
- Training: masked discrete diffusion per frame (each frame is left clean with probability `p_clean`, else each of
  its tokens is masked with a cosine-drawn ratio); cross-entropy on the masked tokens, the earlier-frame features
  taken from the clean clip (the sampler's past is clean). Captions with parts left out (classifier-free guidance),
  an exponential moving average of the weights, the course's one loop (worldmodels.training.train).
- Sampling: frame by frame; within a frame one ball a round, the most confident first; frame 0 drawn at temperature
  1, later frames greedy (the world is deterministic given its start); guidance on the logits.

Prints one JSON object last: the tolerance ratio of every law against the real clips, the share of clips keeping every
ball inside the box, prompt adherence, train seconds, parameters and the seconds to sample 16 clips.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch
from torch import nn

from worldmodels import laws, multiball
from worldmodels import track_generation as tg
from worldmodels.diffusion import Block, DiTConfig, TextEncoder
from worldmodels.track_generation_training import WeightAverage
from worldmodels.training import TrainConfig, batch_sampler, n_parameters, train

T, N = multiball.N_FRAMES, multiball.MAX_BALLS
FRAME = torch.arange(T).repeat(N)  # the frame of each token (ball-major: token b * T + t)
BLOCKED = FRAME[None, :] > FRAME[:, None]  # (query, key): True = may not attend (a later frame)


class Vocabulary:
    """Classes of a token coordinate: positions 0..n_pos-1, steps n_pos..n_pos+n_step-1, absent, mask."""

    def __init__(self, q: float = 0.1, max_step: float = 5.0):
        self.q = q
        self.n_pos = int(round(multiball.WORLD.size / q)) + 1
        self.reach = int(round(max_step / q))
        self.n_step = 2 * self.reach + 1
        self.absent = self.n_pos + self.n_step
        self.mask = self.absent + 1
        self.size = self.mask + 1

    def encode(self, positions, present) -> torch.Tensor:
        """Tracks (B, T, N, 2) px, present (B, N) -> tokens (B, N * T, 2)."""
        q = np.rint(np.asarray(positions) / self.q).astype(np.int64)
        tok = np.concatenate([q[:, :1], self.n_pos + self.reach + np.diff(q, axis=1)], axis=1)
        tok = np.where(np.asarray(present)[:, None, :, None], tok, self.absent)
        return torch.from_numpy(tok.transpose(0, 2, 1, 3).reshape(len(q), N * T, 2).copy())

    def decode(self, tok: torch.Tensor):
        """Tokens -> tracks (B, T, N, 2) px and presence (B, T, N) (+1 drawn / -1): the steps summed from the first
        position; a ball is drawn if none of its tokens is absent."""
        tok = tok.reshape(len(tok), N, T, 2).transpose(1, 2).numpy()
        on = (tok != self.absent).all(axis=-1)
        start = np.where(tok[:, :1] < self.n_pos, tok[:, :1], self.n_pos // 2).astype(np.float64)
        is_step = (tok[:, 1:] >= self.n_pos) & (tok[:, 1:] < self.absent)
        steps = np.where(is_step, tok[:, 1:] - self.n_pos - self.reach, 0)
        q = np.cumsum(np.concatenate([start, steps.astype(np.float64)], axis=1), axis=1)
        present = np.broadcast_to(on.all(axis=1, keepdims=True), on.shape)
        return q * self.q, np.where(present, 1.0, -1.0)

    def values(self, tok: torch.Tensor) -> torch.Tensor:
        """(B, L, 2) -> (B, L, 4): each coordinate's value (positions scaled to the box's [-1, 1], steps / 3 px),
        known and absent flags."""
        is_pos, is_step = tok < self.n_pos, (tok >= self.n_pos) & (tok < self.absent)
        v = torch.where(is_pos, (tok * self.q - multiball.WORLD.size / 2) / tg.SCALE, 0.0) \
            + torch.where(is_step, (tok - self.n_pos - self.reach) * self.q / 3.0, 0.0)
        known = (tok != self.mask).all(-1, keepdim=True).float()
        return torch.cat([v.float(), known, (tok == self.absent).any(-1, keepdim=True).float()], -1)

    def running(self, tok: torch.Tensor) -> torch.Tensor:
        """(B, N * T, 2) -> (B, N * T, 6): each ball's position (scaled, with a flag) where all its tokens so far are
        known, at the token's frame and one frame earlier."""
        t = tok.view(len(tok), N, T, 2)
        known = ((t != self.mask) & (t != self.absent)).all(-1)
        start = torch.where(t[:, :, :1] < self.n_pos, t[:, :, :1], 0).float()
        is_step = (t[:, :, 1:] >= self.n_pos) & (t[:, :, 1:] < self.absent)
        steps = torch.where(is_step, t[:, :, 1:] - self.n_pos - self.reach, 0)
        p = torch.cumsum(torch.cat([start, steps.float()], 2), 2) * self.q
        ok = torch.cumprod(known.int(), 2).bool()
        scaled = torch.where(ok[..., None], (p - multiball.WORLD.size / 2) / tg.SCALE, 0.0)
        f = torch.cat([scaled, ok[..., None].float()], -1)
        return torch.cat([f, torch.cat([torch.zeros_like(f[:, :, :1]), f[:, :, :-1]], 2)], -1).view(len(tok), N * T, 6)

    def previous(self, tok: torch.Tensor):
        """Each token's ball's token one frame earlier (mask at frame 0), and its values plus the ball's distances to
        the four turning lines at that frame (px / 3, clipped to [0, 3])."""
        t = tok.view(len(tok), N, T, 2)
        before = torch.cat([torch.full_like(t[:, :, :1], self.mask), t[:, :, :-1]], 2).reshape_as(tok)
        r = self.running(tok)[..., 3:5] * tg.SCALE
        gaps = torch.cat([tg.SCALE - r, tg.SCALE + r], -1).clamp(0, 9) / 3
        return before, torch.cat([self.values(before), gaps], -1)


class FrameTokens(nn.Module):
    def __init__(self, vocab: Vocabulary, width: int = 96, depth: int = 3, heads: int = 4, text_tokens: bool = True):
        super().__init__()
        self.v = v = vocab
        c = DiTConfig(n_tokens=N * T, token_dim=2, vocab_size=len(multiball.VOCAB), max_words=multiball.MAX_WORDS,
                      width=width, depth=depth, heads=heads)
        self.text = TextEncoder(c)
        self.ex, self.ey = nn.Embedding(v.size, width), nn.Embedding(v.size, width)
        self.pos = nn.Parameter(torch.randn(N * T, width) * 0.02)
        self.feat = nn.Linear(10, width)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.final_modulation = nn.Linear(width, 2 * width)
        nn.init.zeros_(self.final_modulation.weight)
        nn.init.zeros_(self.final_modulation.bias)
        self.out_pos = nn.Linear(width, 2 * (v.n_pos + 1))
        self.out_step = nn.Linear(width, 2 * (v.n_step + 1))
        self.px, self.py = nn.Embedding(v.size, width), nn.Embedding(v.size, width)
        self.pfeat = nn.Sequential(nn.Linear(8, width), nn.GELU(), nn.Linear(width, width))
        self.word_pos = nn.Parameter(torch.randn(multiball.MAX_WORDS, width) * 0.02) if text_tokens else None
        # attention over [the prompt's words, the clip's tokens]: words see words, a clip token sees the words and
        # the tokens of its own and earlier frames
        n_words = multiball.MAX_WORDS if text_tokens else 0
        size = n_words + N * T
        self.register_buffer("blocked", torch.zeros(size, size, dtype=torch.bool), persistent=False)
        self.blocked[n_words:, n_words:] = BLOCKED
        self.blocked[:n_words, n_words:] = True

    def forward(self, tok, words, past=None):
        """tok (B, N * T, 2) with masks; past: the clean tokens that give each token's earlier-frame features
        (defaults to tok: the sampler's past is clean). -> logits of positions (B, N, 1, 2, n_pos + 1) and steps
        (B, N, T - 1, 2, n_step + 1), the last class of each being absent."""
        v, past = self.v, tok if past is None else past
        cond = self.text(words)
        run = torch.cat([v.running(tok)[..., :3], v.running(past)[..., 3:]], -1)
        before, f = v.previous(past)
        h = (self.ex(tok[..., 0]) + self.ey(tok[..., 1]) + self.pos + self.feat(torch.cat([run, v.values(tok)], -1))
             + self.px(before[..., 0]) + self.py(before[..., 1]) + self.pfeat(f))
        if self.word_pos is not None:  # the prompt's words as tokens too, beside the bag of words in cond
            h = torch.cat([self.text.embed(words) + self.word_pos, h], 1)
        for block in self.blocks:
            h = block(h, cond, self.blocked)
        h = h[:, -N * T:]
        shift, scale = self.final_modulation(nn.functional.silu(cond))[:, None].chunk(2, dim=-1)
        h = (self.norm(h) * (1 + scale) + shift).view(len(tok), N, T, -1)
        return (self.out_pos(h[:, :, :1]).view(len(tok), N, 1, 2, v.n_pos + 1),
                self.out_step(h[:, :, 1:]).view(len(tok), N, T - 1, 2, v.n_step + 1))


def head_classes(v: Vocabulary, tok):
    t = tok.view(len(tok), N, T, 2)
    return (torch.where(t[:, :, :1] == v.absent, v.n_pos, t[:, :, :1]),
            torch.where(t[:, :, 1:] == v.absent, v.n_step, t[:, :, 1:] - v.n_pos))


def loss(model, batch):
    tok, words, masked = batch
    lp, ls = model(torch.where(masked[..., None], model.v.mask, tok), words, past=tok)
    p, s = head_classes(model.v, tok)
    m = masked.view(len(tok), N, T)
    cp = nn.functional.cross_entropy(lp.flatten(0, -2), p.flatten(), reduction="none").view(p.shape)
    cs = nn.functional.cross_entropy(ls.flatten(0, -2), s.flatten(), reduction="none").view(s.shape)
    return ((cp * m[:, :, :1, None]).sum() + (cs * m[:, :, 1:, None]).sum()) / (2 * masked.sum().clamp(min=1))


@torch.no_grad()
def generate(model, prompts, seed: int = 0, guidance: float = 3.0, temperature0: float = 1.0) -> tg.Generated:
    v, words = model.v, multiball.tokenize(prompts)
    b, empty, gen = len(words), torch.zeros_like(words), torch.Generator().manual_seed(seed)
    tok = torch.full((b, N * T, 2), v.mask)
    rows = torch.arange(b)
    model.eval()
    for t in range(T):
        todo = torch.ones(b, N, dtype=torch.bool)
        for _ in range(N):  # one ball a round, the most confident first
            both = model(torch.cat([tok, tok]), torch.cat([words, empty]))
            heads = [x[b:] + guidance * (x[:b] - x[b:]) for x in both]
            logits = heads[0][:, :, 0] if t == 0 else heads[1][:, :, t - 1]  # (b, N, 2, C)
            logp = torch.log_softmax(logits / temperature0 if t == 0 else logits, dim=-1)
            if t == 0:
                u = torch.rand(logp.shape, generator=gen).clamp_(1e-20, 1)
                pick = (logp - torch.log(-torch.log(u))).argmax(-1)
            else:
                pick = logp.argmax(-1)
            conf = torch.where(todo, torch.gather(logp, -1, pick[..., None])[..., 0].sum(-1), -torch.inf)
            which = conf.argmax(1)
            ids = torch.where(pick == v.n_pos, v.absent, pick) if t == 0 else \
                torch.where(pick == v.n_step, v.absent, pick + v.n_pos)
            tok[rows, torch.arange(N)[which] * T + t] = ids[rows, which]
            todo[rows, which] = False
    tracks, presence = v.decode(tok)
    return tg.Generated(tracks, presence, multiball.draw(tracks, presence > 0))


def train_model(steps: int, q: float, p_clean: float, n_clips: int = 16000, batch_size: int = 128, seed: int = 0,
                text_tokens: bool = True):
    clips = multiball.make_clips(n_clips, "train", seed=seed)
    vocab = Vocabulary(q)
    tokens = vocab.encode(clips.positions, clips.present)
    torch.manual_seed(seed + 1)
    model = FrameTokens(vocab, text_tokens=text_tokens)
    average = WeightAverage(model, 0.995)
    rows_of = batch_sampler(torch.arange(len(tokens)), batch_size=batch_size)

    def next_batch(gen):
        average.update()
        (rows,) = rows_of(gen)
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
        words = multiball.tokenize(multiball.drop_parts(clips.parts[rows.numpy()], rng))
        r = torch.cos(math.pi / 2 * torch.rand(batch_size, T, generator=gen))
        r = (r * (torch.rand(batch_size, T, generator=gen) >= p_clean)).repeat(1, N)
        return tokens[rows], words, torch.rand(batch_size, N * T, generator=gen) < r

    config = TrainConfig(steps=steps, lr=1e-3, warmup_steps=min(100, steps // 2), eval_every=100, seed=seed)
    history = train(model, loss, next_batch, config, desc="frame tokens", progress=False)
    average.update()
    model.load_state_dict(average.average.state_dict())
    return model.eval(), history


def measure(model, n: int = 256, guidance: float = 3.0) -> dict:
    clips = multiball.make_clips(4 * n, "test", seed=0, held_out=False)
    real = clips[np.flatnonzero(~multiball.is_held_out(clips.parts))[:n]]
    prompts = real.captions
    real_v = tg.violations(tg.real_source(real))
    g = generate(model, prompts, seed=0, guidance=guidance)
    source = tg.generated_source(g)
    v = tg.violations(source)
    ratios = {law: round(laws.tolerance_ratio(v[law], real_v[law]), 2) for law in laws.MULTIBALL_LAWS}
    return {"tolerance_ratio": ratios,
            "inside_box": float(laws.inside_box(g.tracks, g.present).mean()),
            "prompt_adherence": {k: round(x, 3) for k, x in tg.prompt_adherence(source, prompts).items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--q", type=float, default=0.1, help="the grid of positions and steps, px")
    p.add_argument("--p-clean", type=float, default=0.2, help="probability that a training frame is left clean")
    p.add_argument("--save", help="store the trained weights here")
    p.add_argument("--load", help="measure these stored weights instead of training")
    p.add_argument("--no-text-tokens", action="store_true", help="the prompt only as adaLN's bag of words")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    if args.load:
        model, history = FrameTokens(Vocabulary(args.q), text_tokens=not args.no_text_tokens), None
        model.load_state_dict(torch.load(args.load))
        model.eval()
    else:
        model, history = train_model(args.steps, args.q, args.p_clean, text_tokens=not args.no_text_tokens)
    train_s = time.perf_counter() - start
    if args.save:
        torch.save(model.state_dict(), args.save)
    start = time.perf_counter()
    generate(model, multiball.make_clips(16, "test", seed=1).captions)
    sample_s = time.perf_counter() - start
    out = {"design": "frame tokens", "steps": None if args.load else args.steps, "threads": args.threads, "q": args.q,
           "p_clean": args.p_clean, "text_tokens": not args.no_text_tokens,
           "train_seconds": round(train_s, 1), "params": n_parameters(model), "sample_seconds_16": round(sample_s, 3),
           "final_loss": round(float(np.mean(history.train_loss[-50:])), 3) if history else None, **measure(model)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
