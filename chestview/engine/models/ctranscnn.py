"""CTransCNN: parallel CNN and Transformer branches that exchange information, and label queries.

Wu et al. 2023, CTransCNN: Combining transformer and CNN in multilabel medical image
classification, Knowledge-Based Systems 281:111030, doi:10.1016/j.knosys.2023.111030 (built on the
Conformer layout of Peng et al. 2021, arXiv:2105.03889). Our reading, kept small for the CPU:

- CNN branch: bottleneck blocks whose middle 3x3 conv has parallel 1x1, identity-BN and
  depthwise 3x3 branches (the paper's multi-branch residual module, MBR; the depthwise branch is
  the inner-branch local-detail path).
- Transformer branch: tokens on a stride-16 grid, pre-norm self-attention + MLP; no position
  embedding (position comes from the CNN features fed in, as in Conformer).
- Information interaction module (IIM) in every block: bottom-up, the CNN block's middle features are
  projected, gated, pooled to the token grid and added to the tokens (CNN -> Transformer); top-down,
  the tokens are projected, upsampled, gated and injected before the 3x3 conv of a second CNN block.
- Label head: learnable label queries attend over the final fused map and its multi-scale pooled
  versions (our version of the paper's multi-label attention module, MMAEF: label embeddings with
  multi-scale pooling); a self-attention between the queries models label dependencies, a final
  cross-attention gives one logit per label.

``size="small"`` (default: embed 128, 2 heads, base width 32, one block per stage) trains on a
CPU; ``size="full"`` is the paper's tiny config (embed 384, 6 heads, width 64, 3+4+4 blocks).
Input sides should be multiples of 16 (otherwise the stride-4 map is padded at the bottom/right).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from chestview.engine.errors import ModelError
from chestview.engine.models.registry import ModelOutput, register_model


@dataclass(frozen=True)
class CTransCNNSize:
    embed_dim: int
    num_heads: int
    base_channels: int
    depths: tuple[int, ...]  # interaction blocks at strides 4, 8, 16


SIZES: dict[str, CTransCNNSize] = {
    "small": CTransCNNSize(embed_dim=128, num_heads=2, base_channels=32, depths=(1, 1, 1)),
    "full": CTransCNNSize(embed_dim=384, num_heads=6, base_channels=64, depths=(3, 4, 4)),
}


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout))


class MultiBranchBlock(nn.Module):
    """Bottleneck whose middle stage sums 3x3, 1x1, depthwise 3x3 and (stride 1) identity-BN branches.

    ``forward(x, inject)`` adds ``inject`` (top-down Transformer features) before the middle stage
    and returns the block output and the middle features (``cout/4`` channels), which feed the
    Transformer bottom-up.
    """

    def __init__(self, cin: int, cout: int, *, stride: int = 1) -> None:
        super().__init__()
        mid = cout // 4
        self.reduce = nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU())
        self.conv3 = _conv_bn(mid, mid, 3, stride)
        self.conv1 = _conv_bn(mid, mid, 1, stride)
        self.local = _conv_bn(mid, mid, 3, stride, groups=mid)  # depthwise: per-channel local detail
        self.ident = nn.BatchNorm2d(mid) if stride == 1 else None
        self.expand = _conv_bn(mid, cout, 1)
        self.shortcut = _conv_bn(cin, cout, 1, stride) if (stride != 1 or cin != cout) else nn.Identity()

    def forward(self, x: torch.Tensor, inject: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.reduce(x)
        if inject is not None:
            m = m + inject
        branches = self.conv3(m) + self.conv1(m) + self.local(m)
        if self.ident is not None:
            branches = branches + self.ident(m)
        mid = F.relu(branches)
        return F.relu(self.expand(mid) + self.shortcut(x)), mid


class CNNToTokens(nn.Module):
    """Bottom-up coupling: 1x1 projection, a sigmoid-gated residual, average pooling to the token grid."""

    def __init__(self, cin: int, dim: int, down: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, 1)
        self.gate = nn.Sequential(nn.Conv2d(dim, dim, 1), nn.BatchNorm2d(dim), nn.Sigmoid(), nn.Conv2d(dim, dim, 1))
        self.down = down
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.proj(x)
        p = p + self.gate(p)
        p = F.avg_pool2d(p, self.down) if self.down > 1 else p
        return F.gelu(self.norm(p.flatten(2).transpose(1, 2)))


class TokensToCNN(nn.Module):
    """Top-down coupling: 1x1 projection, upsampling to the CNN grid, a sigmoid-gated residual."""

    def __init__(self, dim: int, cout: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(dim, cout, 1), nn.BatchNorm2d(cout), nn.ReLU())
        self.gate = nn.Sequential(nn.Conv2d(cout, cout, 1), nn.ReLU(), nn.Conv2d(cout, cout, 1), nn.Sigmoid())

    def forward(self, tokens: torch.Tensor, grid: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
        b, _, d = tokens.shape
        t = self.proj(tokens.transpose(1, 2).reshape(b, d, *grid))
        t = F.interpolate(t, size=size, mode="bilinear", align_corners=False)
        return t + self.gate(t)


class TransformerLayer(nn.Module):
    """Pre-norm multi-head self-attention + MLP (Vaswani et al. 2017, arXiv:1706.03762)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class InteractionBlock(nn.Module):
    """One CTransCNN block: CNN block -> (IIM bottom-up) -> Transformer layer -> (IIM top-down) -> CNN block."""

    def __init__(self, cin: int, cout: int, dim: int, heads: int, *, stride: int, down: int) -> None:
        super().__init__()
        self.cnn = MultiBranchBlock(cin, cout, stride=stride)
        self.up = CNNToTokens(cout // 4, dim, down)
        self.trans = TransformerLayer(dim, heads)
        self.back = TokensToCNN(dim, cout // 4)
        self.fuse = MultiBranchBlock(cout, cout)

    def forward(
        self, x: torch.Tensor, tokens: torch.Tensor, grid: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x, mid = self.cnn(x)
        tokens = self.trans(tokens + self.up(mid))
        x, _ = self.fuse(x, self.back(tokens, grid, mid.shape[-2:]))
        return x, tokens


class CTransCNNBody(nn.Module):
    """Stem, then interaction blocks at strides 4, 8 and 16 (CNN widths w, 2w, 4w; tokens at stride 16).

    ``forward(x)`` returns the final CNN map (through ``self.out``, which Grad-CAM hooks), the
    tokens and their grid.
    """

    name = "ctranscnn"

    def __init__(
        self, in_chans: int, *, embed_dim: int, num_heads: int, base_channels: int, depths: Sequence[int]
    ) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ModelError(f"ctranscnn: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        if len(depths) != 3 or min(depths) < 1:
            raise ModelError(f"ctranscnn: depths must be three counts >= 1, got {tuple(depths)}")
        stem_ch = base_channels * 2
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, stem_ch, 7, 2, 3, bias=False), nn.BatchNorm2d(stem_ch), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
        )
        self.patch = nn.Conv2d(stem_ch, embed_dim, 4, 4)  # stride-16 tokens from the stride-4 stem
        self.first_cnn = MultiBranchBlock(stem_ch, base_channels * 4)
        self.first_trans = TransformerLayer(embed_dim, num_heads)
        blocks = []
        cin = base_channels * 4
        for stage, depth in enumerate(depths):
            cout = base_channels * 4 * 2**stage
            for i in range(depth):
                stride = 2 if (stage > 0 and i == 0) else 1
                blocks.append(InteractionBlock(cin, cout, embed_dim, num_heads, stride=stride, down=4 // 2**stage))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = cin
        self.embed_dim = embed_dim
        self.out = nn.Identity()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
        s = self.stem(x)
        pad_h, pad_w = (-s.shape[2]) % 4, (-s.shape[3]) % 4
        if pad_h or pad_w:
            s = F.pad(s, (0, pad_w, 0, pad_h))
        grid = (s.shape[2] // 4, s.shape[3] // 4)
        tokens = self.first_trans(self.patch(s).flatten(2).transpose(1, 2))
        feat, _ = self.first_cnn(s)
        for block in self.blocks:
            feat, tokens = block(feat, tokens, grid)
        return self.out(feat), tokens, grid


def pooling_matrix(grid: tuple[int, int], sizes: Sequence[int], *, device: torch.device) -> torch.Tensor:
    """(M, N): row m averages the fine positions of pooled token m (adaptive pooling to each size).

    Pooled values are ``P @ v``, so a pooled token's share of a logit can be handed back to the
    positions it averages (``a_fine + a_pooled @ P``).
    """
    grid = (int(grid[0]), int(grid[1]))
    return torch.tensor(_pooling_matrix(grid, tuple(int(s) for s in sizes)), device=device)


@functools.lru_cache(maxsize=16)
def _pooling_matrix(grid: tuple[int, int], sizes: tuple[int, ...]) -> np.ndarray:
    # Built from the grid's integers (adaptive pooling's bins: floor(i*H/s) to ceil((i+1)*H/s)),
    # not by pooling an identity: a constant to an ONNX export, whose input size is fixed.
    h, w = grid
    rows = []
    for s in sizes:
        if s >= min(grid):
            continue
        for i in range(s):
            r0, r1 = (i * h) // s, -((-(i + 1) * h) // s)
            for j in range(s):
                c0, c1 = (j * w) // s, -((-(j + 1) * w) // s)
                row = np.zeros((h, w), dtype=np.float32)
                row[r0:r1, c0:c1] = np.float32(1.0) / np.float32((r1 - r0) * (c1 - c0))
                rows.append(row.reshape(-1))
    matrix = np.stack(rows) if rows else np.zeros((0, h * w), dtype=np.float32)
    matrix.setflags(write=False)
    return matrix


class LabelQueryHead(nn.Module):
    """Label queries over the fused map and its multi-scale pooled tokens; one logit per label.

    Layer 1 (label dependencies): queries cross-attend to the image tokens, then self-attend among
    themselves and pass an MLP. Layer 2 (classification): multi-head cross-attention whose value path
    is linear, with a per-label weight vector on the output, so each logit is exactly
    ``sum_j a_cj s_cj + b_c`` over fine positions j (pooled tokens' attention handed back to the
    positions they average). ``maps = N * (a_cj s_cj) + b_c`` on the grid: the label query's
    attention times what that position's value says about the label; the spatial mean of a map is
    its logit.
    """

    def __init__(
        self, cnn_channels: int, token_dim: int, num_classes: int, *, dim: int, heads: int,
        pool_sizes: Sequence[int] = (1, 2, 4), drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ModelError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes, self.heads, self.dim = num_classes, heads, dim
        self.pool_sizes = tuple(int(s) for s in pool_sizes)
        self.memory = nn.Sequential(nn.LayerNorm(cnn_channels + token_dim), nn.Linear(cnn_channels + token_dim, dim))
        self.drop = nn.Dropout(drop_rate)
        self.queries = nn.Parameter(torch.randn(num_classes, dim) * 0.02)
        self.cross1 = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.self_attn = TransformerLayer(dim, heads)
        self.q_norm, self.k_norm = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q_proj, self.k_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.v_proj, self.o_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.label_weight = nn.Parameter(torch.randn(num_classes, dim) * 0.02)  # group-wise fc
        self.label_bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, feat: torch.Tensor, tokens: torch.Tensor, grid: tuple[int, int]) -> ModelOutput:
        b = feat.shape[0]
        n = grid[0] * grid[1]
        fused = torch.cat([feat.flatten(2).transpose(1, 2), tokens], dim=2)  # (B,N,Cc+D)
        mem = self.drop(self.memory(fused))  # (B,N,dim)
        pool = pooling_matrix(grid, self.pool_sizes, device=mem.device).to(mem.dtype)  # (M,N)
        mem_all = torch.cat([mem, torch.einsum("mn,bnd->bmd", pool, mem)], dim=1)  # (B,N+M,dim)
        q = self.queries[None].expand(b, -1, -1)
        q = q + self.cross1(q, mem_all, mem_all, need_weights=False)[0]
        q = self.self_attn(q)
        # Final cross-attention written out, to keep the per-head attention and linear value path.
        hd = self.dim // self.heads
        qh = self.q_proj(self.q_norm(q)).view(b, -1, self.heads, hd).transpose(1, 2)  # (B,H,C,hd)
        kh = self.k_proj(self.k_norm(mem_all)).view(b, -1, self.heads, hd).transpose(1, 2)  # (B,H,N+M,hd)
        attn = torch.softmax(qh @ kh.transpose(2, 3) / math.sqrt(hd), dim=-1)  # (B,H,C,N+M)
        attn_fine = attn[..., :n] + attn[..., n:] @ pool  # (B,H,C,N)
        vh = (mem @ self.v_proj.weight.T).view(b, n, self.heads, hd).transpose(1, 2)  # (B,H,N,hd), no bias
        u = (self.label_weight @ self.o_proj.weight).view(-1, self.heads, hd)  # (C,H,hd): w_c^T W_o per head
        score = torch.einsum("chd,bhnd->bhcn", u, vh)  # what position n's value says about label c
        contrib = (attn_fine * score).sum(dim=1)  # (B,C,N)
        # Constant terms: value bias (attention sums to 1 per head), output bias, label bias.
        bias_v = torch.einsum("chd,hd->c", u, self.v_proj.bias.view(self.heads, hd))
        bias = bias_v + self.label_weight @ self.o_proj.bias + self.label_bias
        logits = contrib.sum(dim=2) + bias
        maps = contrib * n + bias[None, :, None]
        return ModelOutput(logits, maps.view(b, -1, *grid))


class CTransCNN(nn.Module):
    """``trunk`` (the two-branch body) -> ``head`` (label queries)."""

    def __init__(self, trunk: CTransCNNBody, head: LabelQueryHead) -> None:
        super().__init__()
        self.arch = "ctranscnn"
        self.trunk = trunk
        self.head = head
        self.num_classes = head.num_classes

    def forward(self, x: torch.Tensor) -> ModelOutput:
        return self.head(*self.trunk(x))


@register_model(
    "ctranscnn",
    title="CTransCNN",
    description="CTransCNN: CNN + Transformer branches with information interaction, label-query head",
    paper=(
        "Wu et al. 2023, CTransCNN: Combining transformer and CNN in multilabel medical image classification, "
        "Knowledge-Based Systems 281:111030, doi:10.1016/j.knosys.2023.111030"
    ),
)
def ctranscnn(
    *,
    num_classes: int,
    in_chans: int = 3,
    trunk: str = "ctranscnn",
    pretrained_trunk: bool = False,
    drop_rate: float = 0.0,
    size: str = "small",
    embed_dim: int | None = None,
    num_heads: int | None = None,
    base_channels: int | None = None,
    depths: Sequence[int] | None = None,
    pool_sizes: Sequence[int] = (1, 2, 4),
) -> CTransCNN:
    """``size`` "small" (CPU) or "full" (paper); ``embed_dim``, ``num_heads``, ``base_channels``,
    ``depths`` override it. The two branches are one body: ``trunk`` must be "ctranscnn"."""
    if trunk != "ctranscnn":
        raise ModelError(f"ctranscnn has its own two-branch trunk; trunk={trunk!r} is not supported")
    if pretrained_trunk:
        raise ModelError("ctranscnn: no pretrained weights for its trunk")
    if size not in SIZES:
        raise ModelError(f"ctranscnn: size must be one of {', '.join(SIZES)}, got {size!r}")
    overrides = {"embed_dim": embed_dim, "num_heads": num_heads, "base_channels": base_channels}
    cfg = replace(SIZES[size], **{k: int(v) for k, v in overrides.items() if v is not None})
    if depths is not None:
        cfg = replace(cfg, depths=tuple(int(d) for d in depths))
    body = CTransCNNBody(
        in_chans, embed_dim=cfg.embed_dim, num_heads=cfg.num_heads, base_channels=cfg.base_channels, depths=cfg.depths
    )
    head = LabelQueryHead(
        body.out_channels, body.embed_dim, num_classes,
        dim=body.embed_dim, heads=cfg.num_heads, pool_sizes=pool_sizes, drop_rate=drop_rate,
    )
    return CTransCNN(body, head)
