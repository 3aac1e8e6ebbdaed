"""Small building blocks shared by the M2H components.

``separable=True`` selects the depthwise-separable form of a convolution (a k×k depthwise conv and a
1×1 pointwise conv), which is what distinguishes the lightweight decoder (M2H-small) from the full one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

WMCA_ORDER = ("edges", "normals", "semseg", "depth")  # the tasks in the order WMCA concatenates their tokens


class SeparableConv2d(nn.Module):
    """k×k depthwise conv followed by a 1×1 pointwise conv. (B, C_in, H, W) -> (B, C_out, H', W')."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1, bias: bool = False):  # fmt: skip
        super().__init__()
        self.depthwise = nn.Conv2d(in_ch, in_ch, kernel_size, stride, padding, dilation, groups=in_ch, bias=bias)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


def conv2d(in_ch: int, out_ch: int, kernel_size: int, *, stride: int = 1, padding: int = 0, dilation: int = 1,
           bias: bool = True, separable: bool = False) -> nn.Module:  # fmt: skip
    """A plain or depthwise-separable convolution with the same arguments."""
    if separable:
        return SeparableConv2d(in_ch, out_ch, kernel_size, stride, padding, dilation, bias)
    return nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding, dilation, bias=bias)


class ConvAct(nn.Module):
    """Conv followed by an optional activation, or preceded by it (``pre_act``).

    Plain convolutions get He-normal (fan-out) initialisation and zero bias, as the released model does
    for these layers; separable ones keep PyTorch's defaults.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, *, stride: int = 1, padding: int = 0,
                 bias: bool = True, act: type[nn.Module] | None = nn.ReLU, pre_act: bool = False,
                 separable: bool = False):  # fmt: skip
        super().__init__()
        self.conv = conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=padding, bias=bias, separable=separable)
        self.act = act() if act is not None else nn.Identity()
        self.pre_act = pre_act
        if isinstance(self.conv, nn.Conv2d):
            nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")
            if self.conv.bias is not None:
                nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.act(x)) if self.pre_act else self.act(self.conv(x))


def upsample2x(x: torch.Tensor, align_corners: bool = True) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=align_corners)


def resize_to(x: torch.Tensor, like: torch.Tensor, align_corners: bool) -> torch.Tensor:
    """Bilinear resize of ``x`` to the spatial size of ``like`` (no-op when equal)."""
    if x.shape[-2:] == like.shape[-2:]:
        return x
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=align_corners)
