"""The "unique" DINOv2 feature and GGFM (Global Gated Feature Merging), used for depth and semantics.

The unique feature re-reads the last backbone level for one task (1×1 conv, 3×3 stride-2 conv, 3×3
conv + GELU, one fusion block), giving C channels at about h × w. GGFM merges three streams of a
task — its WMCA output A, its MSF output O (before WMCA) and its unique feature U — through channel
gates computed from their global average, then a residual FFN and a 1×1 conv.
"""

from __future__ import annotations

import torch
from torch import nn

from m2h_ros.model.layers import ConvAct, resize_to
from m2h_ros.model.msf import FusionBlock


class UniqueFeature(nn.Module):
    """Last-level patch tokens (B, E, h, w) -> (B, C, 2·ceil(h/2), 2·ceil(w/2))."""

    def __init__(self, embed_dim: int, channels: int, separable: bool = False, act: type[nn.Module] = nn.GELU):
        super().__init__()
        self.project = ConvAct(embed_dim, embed_dim, 1, act=None, separable=separable)
        self.resize = nn.Conv2d(embed_dim, embed_dim, 3, stride=2, padding=1)
        self.conv_proj = ConvAct(embed_dim, channels, 3, padding=1, act=act, separable=separable)
        self.fusion = FusionBlock(channels, skip=False, separable=separable, act=act)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.fusion(self.conv_proj(self.resize(self.project(tokens))))


class GGFM(nn.Module):
    """(A, O, U) each (B, C, ·) -> (B, C, H, W) at the size of O.

    Full: 1×1 projections, gate MLP 3C → C → 3C, FFN ×4. Lightweight: grouped (4) projections, a
    single 3C → 3C gate, FFN ×1.5.
    """

    def __init__(self, channels: int, light: bool = False):
        super().__init__()
        c, groups = channels, 4 if light else 1
        self.proj_o = nn.Conv2d(c, c, 1, groups=groups, bias=False)
        self.proj_a = nn.Conv2d(c, c, 1, groups=groups, bias=False)
        self.proj_u = nn.Conv2d(c, c, 1, groups=groups, bias=False)
        if light:
            self.gate = nn.Sequential(nn.Conv2d(3 * c, 3 * c, 1, bias=False), nn.Sigmoid())
        else:
            self.gate = nn.Sequential(nn.Conv2d(3 * c, c, 1, bias=False), nn.ReLU(),
                                      nn.Conv2d(c, 3 * c, 1, bias=False), nn.Sigmoid())  # fmt: skip
        hidden = 3 * c // 2 if light else 4 * c
        self.ffn = nn.Sequential(nn.Conv2d(c, hidden, 1, bias=False), nn.ReLU(), nn.Conv2d(hidden, c, 1, bias=False))
        self.out = nn.Conv2d(c, c, 1, bias=False)

    def forward(self, attended: torch.Tensor, original: torch.Tensor, unique: torch.Tensor) -> torch.Tensor:
        o, a = self.proj_o(original), self.proj_a(attended)
        u = resize_to(self.proj_u(unique), o, align_corners=True)
        g_o, g_a, g_u = self.gate(torch.cat([o, a, u], dim=1).mean((2, 3), keepdim=True)).chunk(3, dim=1)
        fused = o * g_o + a * g_a + u * g_u
        return self.out(fused + self.ffn(fused))
