"""DINOv2 backbone through timm, as M2H uses it: centre-padded input, intermediate taps, no final norm.

The timm model supplies the blocks and weights. The forward pass is written out here so that the
position embedding is interpolated the way DINOv2 itself does it (bicubic, no antialiasing, scale
factor ``(n + 0.1) / 37``), which keeps released M2H checkpoints numerically faithful; timm's dynamic
resize antialiases and would shift every feature slightly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import nn

from m2h_ros.errors import ConfigError
from m2h_ros.model.loading import load_dinov2_weights

# name -> (timm architecture, embed dim, depth, heads, tapped blocks (0-based) as in the released M2H)
BACKBONES: dict[str, tuple[str, int, int, int, tuple[int, ...]]] = {
    "vit_small": ("vit_small_patch14_dinov2", 384, 12, 6, (2, 5, 8, 11)),
    "vit_base": ("vit_base_patch14_dinov2", 768, 12, 12, (2, 5, 8, 11)),
    "vit_large": ("vit_large_patch14_dinov2", 1024, 24, 16, (4, 11, 17, 23)),
    "vit_giant2": ("vit_giant_patch14_dinov2", 1536, 40, 24, (9, 19, 29, 39)),
    # DINOv2-style ViT-Ti/14 (no DINOv2 release exists at this size): the CPU real-time variant's backbone.
    "vit_tiny": ("vit_small_patch14_dinov2", 192, 12, 3, (2, 5, 8, 11)),
}

PATCH = 14
POS_GRID = 37  # DINOv2's position embedding covers 518 px = 37 patches


@dataclass(frozen=True)
class Features:
    """Tapped backbone outputs: for each tap, patch tokens (B, E, h, w) and the class token (B, E)."""

    tokens: list[torch.Tensor]
    cls: list[torch.Tensor]


def center_pad(x: torch.Tensor, multiple: int = PATCH) -> torch.Tensor:
    """Zero-pad (B, C, H, W) so H and W are multiples of ``multiple``; floor of the padding goes first."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class DinoV2Backbone(nn.Module):
    """(B, 3, H, W) normalised RGB -> :class:`Features` at the configured taps, tokens on a ceil(H/14)×ceil(W/14) grid.

    Args:
        name: a key of ``BACKBONES``.
        pretrained: load timm's pretrained DINOv2 weights (needs network access to the hub).
        weights: a local file with DINOv2 weights (torch.hub or timm key names; .pth or .safetensors).
        frozen: no gradients into the backbone (as released).
    """

    def __init__(self, name: str = "vit_small", pretrained: bool = False, weights: str | Path | None = None,
                 frozen: bool = True):  # fmt: skip
        super().__init__()
        if name not in BACKBONES:
            raise ValueError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
        if pretrained and name == "vit_tiny":
            raise ConfigError("vit_tiny has no pretrained weights (no DINOv2 release at that size); "
                              "use vit_small or larger, or an efficientnet_lite backbone")  # fmt: skip
        arch, dim, depth, heads, taps = BACKBONES[name]
        kwargs = {"embed_dim": dim, "depth": depth, "num_heads": heads} if name == "vit_tiny" else {}
        self.vit = timm.create_model(arch, pretrained=pretrained, num_classes=0,
                                     img_size=PATCH * POS_GRID, **kwargs)  # fmt: skip
        self.vit.patch_embed.strict_img_size = False
        # Part of DINOv2's released weights (iBOT masking during its pre-training); unused here, kept so
        # DINOv2 and M2H checkpoints load without dropping keys.
        self.mask_token = nn.Parameter(torch.zeros(1, dim), requires_grad=False)
        self.vit.norm.requires_grad_(False)  # likewise: M2H taps the blocks without the final norm
        self.name, self.embed_dim, self.taps = name, dim, taps
        self.frozen = frozen
        if weights is not None:
            load_dinov2_weights(self, weights)
        if frozen:
            for p in self.parameters():
                p.requires_grad_(False)

    def _pos_embed(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        pos = self.vit.pos_embed
        cls_pos, patch_pos = pos[:, :1], pos[:, 1:]
        if (h, w) != (POS_GRID, POS_GRID):
            grid = patch_pos.reshape(1, POS_GRID, POS_GRID, -1).permute(0, 3, 1, 2)
            grid = F.interpolate(grid.float(), scale_factor=((h + 0.1) / POS_GRID, (w + 0.1) / POS_GRID),
                                 mode="bicubic", align_corners=False)  # fmt: skip
            patch_pos = grid.to(pos.dtype).permute(0, 2, 3, 1).reshape(1, h * w, -1)
        cls = self.vit.cls_token.expand(x.shape[0], -1, -1)
        return torch.cat([cls + cls_pos, x + patch_pos], dim=1)

    def forward(self, img: torch.Tensor) -> Features:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            x = center_pad(img)
            h, w = int(x.shape[-2]) // PATCH, int(x.shape[-1]) // PATCH  # Python ints, also under tracing
            x = self.vit.patch_embed.proj(x).flatten(2).transpose(1, 2)  # (B, h*w, E)
            x = self._pos_embed(x, h, w)
            tokens, cls = [], []
            for i, block in enumerate(self.vit.blocks):
                x = block(x)
                if i in self.taps:
                    cls.append(x[:, 0])
                    tokens.append(x[:, 1:].transpose(1, 2).reshape(x.shape[0], -1, h, w))
                if i == self.taps[-1]:
                    break
        return Features(tokens, cls)

    @staticmethod
    def grid(height: int, width: int) -> tuple[int, int]:
        """Token grid (h, w) for an input of height × width."""
        return math.ceil(height / PATCH), math.ceil(width / PATCH)
