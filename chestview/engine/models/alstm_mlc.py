"""Chest ALSTM-MLC: a CNN encoder, additive attention and an LSTM that emits labels one at a time.

Multi-label classification as sequence prediction, after the CNN-RNN of Wang et al. 2016 (CVPR,
arXiv:1604.04573), the attention decoder of Xu et al. 2015 (Show, Attend and Tell, ICML,
arXiv:1502.03044) and the chest X-ray label decoder of Yao et al. 2017 (Learning to diagnose from
scratch by exploiting dependencies among labels, arXiv:1710.10501). The decoder starts from
``<start>``, attends over the encoder's grid conditioned on the previous label's embedding and its
own state, and emits labels (in a fixed order) until ``<end>``: an image can get no label, one or
several.

The common interface (``ModelOutput(logits, maps)``) comes from a greedy decode of at most
``num_labels + 1`` steps: a label's probability is the largest probability any step gave it while
decoding was running, its logit ``log p - log(1 - p)``, and its map the attention of that step.
Training uses teacher forcing through :meth:`AttentionLSTMMLC.training_loss`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from chestview.engine.errors import ModelError
from chestview.engine.models.registry import ModelOutput, register_model
from chestview.engine.models.trunks import Trunk, build_trunk

_NEG = -1.0e4  # a masked score: finite, so softmax and its gradient stay defined
_EPS = 1.0e-6


def label_parents(labels: Sequence[str], *, sep: str = "/") -> list[int]:
    """Parent of each label in a path-like hierarchy ("Opacity/lung/base" -> "Opacity/lung"), or -1.

    The parent is the longest other label that is a path prefix, so missing levels are skipped.
    """
    index = {name: i for i, name in enumerate(labels)}
    parents = []
    for name in labels:
        parts = name.split(sep)
        parent = -1
        for cut in range(len(parts) - 1, 0, -1):
            parent = index.get(sep.join(parts[:cut]), -1)
            if parent >= 0:
                break
        parents.append(parent)
    return parents


def hierarchical_label_order(
    labels: Sequence[str], *, frequencies: Sequence[float] | None = None, sep: str = "/"
) -> list[int]:
    """The order in which labels are emitted: coarse before fine (path depth), then most frequent first.

    Yao et al. 2017 order labels by frequency; with MeSH-like tags a parent is thus always emitted
    before its children, so the decoder refines what it has already said.
    """
    freq = list(frequencies) if frequencies is not None else [0.0] * len(labels)
    if len(freq) != len(labels):
        raise ModelError(f"frequencies has {len(freq)} entries for {len(labels)} labels")
    return sorted(range(len(labels)), key=lambda i: (labels[i].count(sep), -freq[i], i))


@dataclass
class _State:
    h: torch.Tensor
    c: torch.Tensor


class AttentionLSTMDecoder(nn.Module):
    """Additive attention (Bahdanau et al. 2015, arXiv:1409.0473) + LSTM cell over label tokens.

    Vocabulary: labels ``0..C-1``, ``<end>`` = C, ``<start>`` = C+1, ``<pad>`` = C+2. The output
    layer scores the C labels and ``<end>`` (indices 0..C), so output and vocabulary indices agree.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        feature_dim: int = 256,
        embed_dim: int = 128,
        hidden_dim: int = 256,
        attention_dim: int = 128,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ModelError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.end, self.start, self.pad = num_classes, num_classes + 1, num_classes + 2
        self.values = nn.Linear(in_channels, feature_dim)
        self.embed = nn.Embedding(num_classes + 3, embed_dim, padding_idx=self.pad)
        self.att_feat = nn.Linear(feature_dim, attention_dim)
        self.att_hidden = nn.Linear(hidden_dim, attention_dim, bias=False)
        self.att_label = nn.Linear(embed_dim, attention_dim, bias=False)
        self.att_score = nn.Linear(attention_dim, 1)
        self.init_h = nn.Linear(feature_dim, hidden_dim)
        self.init_c = nn.Linear(feature_dim, hidden_dim)
        self.lstm = nn.LSTMCell(feature_dim + embed_dim, hidden_dim)
        self.drop = nn.Dropout(drop_rate)
        self.out = nn.Linear(hidden_dim + feature_dim + embed_dim, num_classes + 1)

    def encode(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, _State]:
        """(B,K,h,w) trunk features -> values (B,N,D), attention keys (B,N,A), initial state."""
        values = F.relu(self.values(feats.flatten(2).transpose(1, 2)))
        mean = values.mean(dim=1)
        state = _State(torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean)))
        return values, self.att_feat(values), state

    def step(
        self, prev: torch.Tensor, state: _State, values: torch.Tensor, keys: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, _State]:
        """One label step: previous token (B,) -> scores over labels + ``<end>`` (B,C+1), attention (B,N)."""
        emb = self.embed(prev)
        query = self.att_hidden(state.h) + self.att_label(emb)
        alpha = torch.softmax(self.att_score(torch.tanh(keys + query[:, None])).squeeze(-1), dim=1)
        context = torch.einsum("bn,bnd->bd", alpha, values)
        h, c = self.lstm(torch.cat([context, emb], dim=1), (state.h, state.c))
        scores = self.out(self.drop(torch.cat([h, context, emb], dim=1)))
        return scores, alpha, _State(h, c)


class AttentionLSTMMLC(nn.Module):
    """Chest ALSTM-MLC: ``trunk`` (fine-tuned CNN encoder) -> ``head`` (attention LSTM decoder).

    ``label_order``: emission order of the labels (default 0..C-1; see
    :func:`hierarchical_label_order`). ``parents``: optional parent index per label (-1 = root,
    see :func:`label_parents`); a child can only be emitted after its parent. ``neg_samples``: how
    many negative labels each training step's softmax sees (``None`` = all known negatives).
    """

    def __init__(
        self,
        trunk: Trunk,
        head: AttentionLSTMDecoder,
        *,
        label_order: Sequence[int] | None = None,
        parents: Sequence[int] | None = None,
        neg_samples: int | None = None,
    ) -> None:
        super().__init__()
        self.arch = "alstm_mlc"
        self.trunk = trunk
        self.head = head
        c = head.num_classes
        self.num_classes = c
        order = list(range(c)) if label_order is None else [int(i) for i in label_order]
        if sorted(order) != list(range(c)):
            raise ModelError(f"alstm_mlc: label_order must be a permutation of 0..{c - 1}")
        par = [-1] * c if parents is None else [int(p) for p in parents]
        if len(par) != c or any(p < -1 or p >= c or p == i for i, p in enumerate(par)):
            raise ModelError(f"alstm_mlc: parents must give, for each of the {c} labels, another label or -1")
        if neg_samples is not None and neg_samples < 1:
            raise ModelError(f"alstm_mlc: neg_samples must be >= 1 or None, got {neg_samples}")
        self.neg_samples = neg_samples
        rank = torch.empty(c, dtype=torch.long)
        rank[torch.tensor(order)] = torch.arange(c)
        self.register_buffer("rank", rank, persistent=False)
        self.register_buffer("parents", torch.tensor(par, dtype=torch.long), persistent=False)

    # -- masks ------------------------------------------------------------------------------
    def _allowed(self, emitted: torch.Tensor) -> torch.Tensor:
        """(B,C) bool: labels whose parent (if any) was already emitted and that were not emitted."""
        has_parent = self.parents >= 0
        parent_done = emitted[:, self.parents.clamp_min(0)]
        return (~has_parent | parent_done) & ~emitted

    # -- inference --------------------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, targets: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> ModelOutput | torch.Tensor:
        """``ModelOutput`` from a greedy decode; with ``targets``, the teacher-forced training loss
        instead (so a DistributedDataParallel wrapper, which syncs gradients through ``forward``,
        can train it: ``ddp_model(x, targets, mask)``)."""
        if targets is not None:
            return self.training_loss(x, targets, mask)
        feats = self.trunk(x)
        values, keys, state = self.head.encode(feats)
        return self._greedy(values, keys, state, (feats.shape[2], feats.shape[3]))

    def _greedy(self, values: torch.Tensor, keys: torch.Tensor, state: _State, grid: tuple[int, int]) -> ModelOutput:
        b, n = values.shape[:2]
        c = self.num_classes
        emitted = torch.zeros(b, c, dtype=torch.bool, device=values.device)
        running = torch.ones(b, dtype=torch.bool, device=values.device)
        prev = torch.full((b,), self.head.start, dtype=torch.long, device=values.device)
        probs, alphas = [], []
        for _ in range(c + 1):
            scores, alpha, state = self.head.step(prev, state, values, keys)
            allowed = torch.cat([self._allowed(emitted), torch.ones_like(running)[:, None]], dim=1)
            p = torch.softmax(torch.where(allowed, scores.float(), torch.full_like(scores.float(), _NEG)), dim=1)
            # Steps after <end> do not count: their probabilities are set below any real one.
            probs.append(torch.where(running[:, None], p[:, :c], torch.full_like(p[:, :c], -1.0)))
            alphas.append(alpha)
            choice = p.argmax(dim=1)
            stop = choice == self.head.end
            emitted = emitted | (F.one_hot(choice, c + 1)[:, :c].bool() & running[:, None])
            running = running & ~stop
            prev = torch.where(running, choice, torch.full_like(choice, self.head.pad))
            if not bool(running.any()):
                break
        p_steps = torch.stack(probs, dim=1)  # (B,T,C)
        best, step = p_steps.max(dim=1)  # step 0 always ran, so best >= 0
        best = best.clamp(_EPS, 1.0 - _EPS)
        logits = torch.log(best) - torch.log1p(-best)
        a = torch.stack(alphas, dim=1)  # (B,T,N)
        chosen = torch.gather(a, 1, step[:, :, None].expand(b, c, n))  # (B,C,N)
        # Maps in logit units: the label's logit plus the log attention relative to uniform,
        # so an evenly spread attention reads as the logit everywhere.
        maps = logits[:, :, None] + torch.log(chosen * n + _EPS)
        return ModelOutput(logits.to(values.dtype), maps.view(b, c, *grid).to(values.dtype))

    @torch.no_grad()
    def decode(self, x: torch.Tensor, *, beam: int = 3, max_len: int | None = None) -> list[list[int]]:
        """Label sequences (in emission order, without ``<end>``) by beam search; ``beam=1`` is greedy.

        Call it in eval mode (BatchNorm running statistics, no dropout), like any inference.
        """
        if beam < 1:
            raise ModelError(f"beam must be >= 1, got {beam}")
        values, keys, state = self.head.encode(self.trunk(x))
        limit = self.num_classes if max_len is None else max_len
        seqs = []
        for i in range(values.shape[0]):
            one = slice(i, i + 1)
            seqs.append(self._beam_one(values[one], keys[one], _State(state.h[one], state.c[one]), beam, limit))
        return seqs

    def _beam_one(self, values: torch.Tensor, keys: torch.Tensor, state: _State, beam: int, limit: int) -> list[int]:
        c = self.num_classes
        # Each live hypothesis: (log-probability, labels so far); states batched along dim 0.
        live: list[tuple[float, list[int]]] = [(0.0, [])]
        done: list[tuple[float, list[int]]] = []
        for _ in range(limit + 1):
            k = len(live)
            prev = torch.tensor([seq[-1] if seq else self.head.start for _, seq in live], device=values.device)
            scores, _, state = self.head.step(prev, state, values.expand(k, -1, -1), keys.expand(k, -1, -1))
            emitted = torch.zeros(k, c, dtype=torch.bool, device=values.device)
            for j, (_, seq) in enumerate(live):
                emitted[j, seq] = True
            allowed = torch.cat([self._allowed(emitted), torch.ones(k, 1, dtype=torch.bool, device=values.device)], 1)
            if len(live[0][1]) >= limit:  # out of steps: only <end> is left
                allowed[:, :c] = False
            logp = torch.log_softmax(torch.where(allowed, scores.float(), torch.full_like(scores.float(), _NEG)), 1)
            logp = torch.where(allowed, logp, torch.full_like(logp, -math.inf))
            total = logp + torch.tensor([s for s, _ in live], device=values.device)[:, None]
            top = total.flatten().topk(min(beam, int(torch.isfinite(total).sum())))
            nxt, keep = [], []
            for score, flat in zip(top.values.tolist(), top.indices.tolist()):
                j, tok = divmod(flat, c + 1)
                if tok == self.head.end:
                    done.append((score, live[j][1]))
                else:
                    nxt.append((score, live[j][1] + [tok]))
                    keep.append(j)
            # Stop once the best finished sequence beats every live one (log-probs only fall).
            if not nxt or (done and max(s for s, _ in done) >= max(s for s, _ in nxt)):
                break
            idx = torch.tensor(keep, device=values.device)
            live, state = nxt, _State(state.h[idx], state.c[idx])
        return max(done, key=lambda t: t[0])[1] if done else live[0][1]

    # -- training ---------------------------------------------------------------------------
    def training_loss(self, x: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced sequence loss of a batch: ``targets`` (B,C) 0/1/NaN, ``mask`` (B,C) 1 = known."""
        values, keys, state = self.head.encode(self.trunk(x))
        return self.sequence_loss(values, keys, state, targets, mask)

    def sequence_loss(
        self,
        values: torch.Tensor,
        keys: torch.Tensor,
        state: _State,
        targets: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Cross-entropy of each step's target against a restricted candidate set.

        The target sequence is the image's known positives in ``label_order``, then ``<end>``. At
        each step the softmax covers the target, ``<end>`` (while labels remain) and the image's known
        negatives (or ``neg_samples`` of them, drawn uniformly, as in the negative sampling of
        Mikolov et al. 2013, arXiv:1310.4546). Positives still to come are left out: penalising
        them would teach the order, not the findings. Labels already emitted, children of labels
        not yet emitted, and unknown labels (mask 0 or NaN) are never candidates. The loss is the
        mean over steps per image, then over images.
        """
        c = self.num_classes
        known = ~torch.isnan(targets)
        if mask is not None:
            known = known & (mask > 0)
        pos = known & (torch.nan_to_num(targets) > 0.5)
        neg = known & ~pos
        b = targets.shape[0]
        n_pos = pos.sum(dim=1)
        big = torch.full_like(self.rank, c)
        seq = torch.where(pos, self.rank[None].expand(b, c), big[None].expand(b, c)).argsort(dim=1)
        steps = int(n_pos.max()) + 1
        t_idx = torch.arange(steps, device=targets.device)
        label_at = torch.cat([seq, seq[:, :1]], dim=1)[:, :steps]  # the tail is overwritten below
        tgt = torch.where(t_idx[None] < n_pos[:, None], label_at, torch.full_like(label_at, self.head.end))
        emitted = torch.zeros(b, c, dtype=torch.bool, device=targets.device)
        prev = torch.full((b,), self.head.start, dtype=torch.long, device=targets.device)
        losses = []
        for t in range(steps):
            scores, _, state = self.head.step(prev, state, values, keys)
            target = tgt[:, t]
            active = t <= n_pos  # this image still has a target at step t
            negs = neg & self._allowed(emitted)
            if self.neg_samples is not None:
                negs = _sample(negs, self.neg_samples)
            is_label = target < c
            cand = torch.cat([negs, is_label[:, None]], dim=1)  # <end> is a negative while labels remain
            cand = cand | F.one_hot(target, c + 1).bool()
            s = torch.where(cand, scores.float(), torch.full_like(scores.float(), _NEG))
            step_loss = F.cross_entropy(s, target, reduction="none")
            losses.append(torch.where(active, step_loss, torch.zeros_like(step_loss)))
            emitted = emitted | (F.one_hot(target, c + 1)[:, :c].bool() & active[:, None])
            prev = torch.where(active, target, torch.full_like(target, self.head.pad))
        per_image = torch.stack(losses, dim=1).sum(dim=1) / (n_pos + 1).float()
        return per_image.mean()


def _sample(candidates: torch.Tensor, k: int) -> torch.Tensor:
    """At most ``k`` of the True entries of each row of (B,C), chosen uniformly at random."""
    if int(candidates.sum(dim=1).max()) <= k:
        return candidates
    r = torch.rand(candidates.shape, device=candidates.device).masked_fill(~candidates, -1.0)
    kth = r.topk(k, dim=1).values[:, -1:]
    return candidates & (r >= kth)


@register_model(
    "alstm_mlc",
    title="Chest ALSTM-MLC",
    description="Chest ALSTM-MLC: DenseNet encoder, additive attention, LSTM label decoder (greedy/beam)",
    paper=(
        "CNN-RNN multi-label decoding (Wang et al. 2016, arXiv:1604.04573) with Show-Attend-Tell attention "
        "(Xu et al. 2015, arXiv:1502.03044), as applied to chest X-rays by Yao et al. 2017, arXiv:1710.10501"
    ),
)
def alstm_mlc(
    *,
    num_classes: int,
    in_chans: int = 3,
    trunk: str = "densenet121",
    pretrained_trunk: bool = False,
    drop_rate: float = 0.0,
    feature_dim: int = 256,
    embed_dim: int = 128,
    hidden_dim: int = 256,
    attention_dim: int = 128,
    label_order: Sequence[int] | None = None,
    parents: Sequence[int] | None = None,
    neg_samples: int | None = None,
) -> AttentionLSTMMLC:
    """Train with ``model.training_loss(x, targets, mask)``; ``model.decode(x, beam=3)`` for label sets."""
    body = build_trunk(trunk, in_chans=in_chans, pretrained=pretrained_trunk)
    head = AttentionLSTMDecoder(
        body.out_channels,
        num_classes,
        feature_dim=feature_dim,
        embed_dim=embed_dim,
        hidden_dim=hidden_dim,
        attention_dim=attention_dim,
        drop_rate=drop_rate,
    )
    return AttentionLSTMMLC(body, head, label_order=label_order, parents=parents, neg_samples=neg_samples)
