"""MSF: Multi-Scale Fusion, one DPT-style refinement path per task.

Fusion runs coarse to fine: ``Fusion0(F3) → Fusion1(·, F2) → Fusion2(·, F1) → Fusion3(·, F0)``, each
upsampling ×2, so the task feature ends at 8h × 8w (128² for a 224² input), then a 3×3 conv + ReLU.
"""

from __future__ import annotations

import torch
from torch import nn

from m2h_ros.model.layers import ConvAct, resize_to, upsample2x


class RCU(nn.Module):
    """Pre-activation residual conv unit: x + conv(act(conv(act(x)))), no norm. (B, C, H, W) -> same.

    The full decoder uses two 3×3 convs with ReLU; the lightweight one a single separable conv whose
    activation is the configured one (GELU as released).
    """

    def __init__(self, channels: int, separable: bool = False, act: type[nn.Module] = nn.GELU):
        super().__init__()
        if separable:
            self.conv1 = ConvAct(channels, channels, 3, padding=1, bias=False, act=act, pre_act=True, separable=True)
            self.conv2 = nn.Identity()
        else:
            self.conv1 = ConvAct(channels, channels, 3, padding=1, bias=False, pre_act=True)
            self.conv2 = ConvAct(channels, channels, 3, padding=1, bias=False, pre_act=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.conv1(x))


class FusionBlock(nn.Module):
    """x (B, C, H, W) [+ RCU1(skip)] -> RCU2 -> bilinear ×2 -> 1×1 conv: (B, C, 2H, 2W).

    With ``skip=False`` the block takes no skip input (the first block of a path); with
    ``upsample=False`` it keeps the resolution. The lightweight decoder shares one RCU between the
    skip and the main path, as released.
    """

    def __init__(self, channels: int, skip: bool = True, separable: bool = False, act: type[nn.Module] = nn.GELU,
                 upsample: bool = True):  # fmt: skip
        super().__init__()
        self.upsample = upsample
        self.rcu2 = RCU(channels, separable, act)
        # The lightweight block reuses rcu2 for the skip; it is not registered twice so that every
        # weight has one name in checkpoints.
        self.rcu1 = RCU(channels) if skip and not separable else None
        self.project = ConvAct(channels, channels, 1, act=None) if not separable else nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            rcu1 = self.rcu1 if self.rcu1 is not None else self.rcu2
            x = x + rcu1(resize_to(skip, x, align_corners=False))
        x = self.rcu2(x)
        return self.project(upsample2x(x) if self.upsample else x)


class MSF(nn.Module):
    """list of 4 × (B, C, ·) MSTR features (fine to coarse) -> (B, C, 8h, 8w) for one task
    (4h × 4w with ``upsample_last=False``)."""

    def __init__(self, channels: int, separable: bool = False, act: type[nn.Module] = nn.GELU,
                 upsample_last: bool = True):  # fmt: skip
        super().__init__()
        self.fusion = nn.ModuleList(
            FusionBlock(channels, skip=i > 0, separable=separable, act=act, upsample=i < 3 or upsample_last)
            for i in range(4)
        )
        self.project = ConvAct(channels, channels, 3, padding=1, separable=separable)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = self.fusion[0](features[-1])
        for block, skip in zip(self.fusion[1:], reversed(features[:-1])):
            x = block(x, skip)
        return self.project(x)
