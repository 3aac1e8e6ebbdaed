"""Task heads. Each upsamples the C-channel task feature ×2 per UpsampleBlock (×4 as released).

Depth and semantics: ASPP → UpsampleBlocks → refinement → spatial attention → output conv.
Normals and edges: UpsampleBlocks → 1×1 output conv.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from m2h_ros.model.layers import ConvAct, conv2d, upsample2x


def _conv_bn_relu(in_ch: int, out_ch: int, k: int, dilation: int = 1, bias: bool = False, separable: bool = False):
    pad = dilation * (k // 2)
    conv = conv2d(in_ch, out_ch, k, padding=pad, dilation=dilation, bias=bias, separable=separable)
    return nn.Sequential(conv, nn.BatchNorm2d(out_ch), nn.ReLU())


class UpsampleBlock(nn.Module):
    """(B, C_in, H, W) -> (B, C_out, 2H, 2W): two conv-BN-ReLU, ×2 upsampling, channel attention, residual.

    Full: 3×3 convs and a 2×2 transposed conv. Lightweight: separable convs, bilinear ×2 and a grouped
    1×1 conv; its residual 1×1 is grouped too.
    """

    def __init__(self, in_ch: int, out_ch: int, separable: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn_relu(in_ch, out_ch, 3, bias=not separable, separable=separable),
            *_conv_bn_relu(out_ch, out_ch, 3, bias=not separable, separable=separable),
        )
        if separable:
            self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
                                    nn.Conv2d(out_ch, out_ch, 1, groups=4, bias=False))  # fmt: skip
            self.residual = nn.Conv2d(in_ch, out_ch, 1, groups=4, bias=False)
        else:
            self.up = nn.ConvTranspose2d(out_ch, out_ch, 2, stride=2)
            self.residual = nn.Conv2d(in_ch, out_ch, 1)
        self.attn = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(out_ch, out_ch // 4, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(out_ch // 4, out_ch, 1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.up(self.body(x))
        return y * self.attn(y) + self.residual(upsample2x(x))


def upsampling_stages(channels: int, hidden: tuple[int, ...], separable: bool) -> nn.ModuleList:
    """UpsampleBlocks channels -> hidden[0] -> hidden[1] -> ..., each doubling the resolution."""
    widths = (channels, *hidden)
    return nn.ModuleList(UpsampleBlock(a, b, separable) for a, b in itertools.pairwise(widths))


class ASPP(nn.Module):
    """(B, C_in, H, W) -> (B, C_out, H, W): a 1×1 branch, dilated 3×3 branches and a global branch."""

    def __init__(self, in_ch: int, out_ch: int, dilations: tuple[int, ...] = (6, 12, 18), reduction: int = 1,
                 separable: bool = False):  # fmt: skip
        super().__init__()
        mid = out_ch // reduction
        self.branches = nn.ModuleList(
            [_conv_bn_relu(in_ch, mid, 1)] + [_conv_bn_relu(in_ch, mid, 3, d, separable=separable) for d in dilations]
        )
        self.pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_ch, mid, 1, bias=False), nn.GroupNorm(1, mid), nn.ReLU()
        )
        self.project = _conv_bn_relu(mid * (len(dilations) + 2), out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pool(x).expand(-1, -1, *x.shape[-2:])  # bilinear upsampling of a 1×1 map is a broadcast
        return self.project(torch.cat([b(x) for b in self.branches] + [pooled], dim=1))


class RefinementBlock(nn.Module):
    """(B, C, H, W) -> same: x + convs(x); two 3×3 conv+ReLU (full) or one separable (lightweight)."""

    def __init__(self, channels: int, separable: bool = False):
        super().__init__()
        n = 1 if separable else 2
        self.convs = nn.Sequential(
            *(ConvAct(channels, channels, 3, padding=1, bias=not separable, separable=separable) for _ in range(n))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.convs(x)


class DenseHead(nn.Module):
    """Depth / semantics head: (B, C, H, W) -> (B, out, H·2^n, W·2^n) raw outputs (n UpsampleBlocks)."""

    def __init__(self, channels: int, out_channels: int, out_kernel: int, hidden: tuple[int, ...] = (128, 64),
                 dilations: tuple[int, ...] = (6, 12, 18), aspp_reduction: int = 1, separable: bool = False):  # fmt: skip
        super().__init__()
        self.aspp = ASPP(channels, channels, dilations, aspp_reduction, separable)
        self.up = upsampling_stages(channels, hidden, separable)
        self.refine = RefinementBlock(hidden[-1], separable)
        self.attn = nn.Sequential(nn.Conv2d(hidden[-1], 1, 3, padding=1), nn.Sigmoid())
        self.out = nn.Conv2d(hidden[-1], out_channels, out_kernel, padding=out_kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.aspp(x)
        for block in self.up:
            x = block(x)
        x = self.refine(x)
        return self.out(x * self.attn(x))


class SimpleHead(nn.Module):
    """Normals / edges head: (B, C, H, W) -> (B, out, H·2^n, W·2^n) raw outputs."""

    def __init__(self, channels: int, out_channels: int, hidden: tuple[int, ...] = (128, 64), separable: bool = False):
        super().__init__()
        self.up = upsampling_stages(channels, hidden, separable)
        self.out = nn.Conv2d(hidden[-1], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.up:
            x = block(x)
        return self.out(x)
