"""WMCA: Window-based Multi-task Cross-Attention.

Each task map is cut into non-overlapping 7×7 windows (zero-padded bottom/right, padding not masked,
as released); the 49 tokens of all four tasks in a window attend jointly (196 tokens), so every token
sees its own task and the others. Per layer: per-task LayerNorm → shared multi-head self-attention
(+ residual onto the normalised tokens) → FFN (+ residual) → per-task LayerNorm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from m2h_ros.model.layers import upsample2x


def window_partition(x: torch.Tensor, window: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """(B, C, H, W) -> (B·nWin, window², C) row-major windows, and the padded size (Hp, Wp)."""
    b, c, h, w = x.shape
    x = F.pad(x, (0, (-w) % window, 0, (-h) % window))
    hp, wp = x.shape[-2:]
    x = x.view(b, c, hp // window, window, wp // window, window).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(-1, window * window, c), (hp, wp)


def window_reverse(x: torch.Tensor, window: int, batch: int, padded: tuple[int, int], size: tuple[int, int]):
    """Inverse of :func:`window_partition`, cropped back to ``size``: (B·nWin, window², C) -> (B, C, H, W)."""
    (hp, wp), c = padded, x.shape[-1]
    x = x.view(batch, hp // window, wp // window, window, window, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(batch, c, hp, wp)[:, :, : size[0], : size[1]]


class WMCALayer(nn.Module):
    """T × (B, C, H, W) -> T × (B, C, H, W): one layer of joint window attention over all tasks."""

    def __init__(self, channels: int, num_heads: int = 4, window: int = 7, ffn_ratio: int = 4, num_tasks: int = 4):
        super().__init__()
        self.window = window
        self.norm1 = nn.ModuleList(nn.LayerNorm(channels) for _ in range(num_tasks))
        self.attn = nn.MultiheadAttention(channels, num_heads, batch_first=True)
        self.fc1 = nn.Linear(channels, channels * ffn_ratio)
        self.fc2 = nn.Linear(channels * ffn_ratio, channels)
        self.norm2 = nn.ModuleList(nn.LayerNorm(channels) for _ in range(num_tasks))

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        b, _, h, w = feats[0].shape
        windows = []
        for x, norm in zip(feats, self.norm1):
            win, padded = window_partition(x, self.window)
            windows.append(norm(win))
        x = torch.cat(windows, dim=1)  # (B·nWin, T·window², C)
        x = x + self.attn(x, x, x, need_weights=False)[0]
        x = x + self.fc2(F.gelu(self.fc1(x)))
        n = self.window * self.window
        return [
            window_reverse(norm(x[:, i * n : (i + 1) * n]), self.window, b, padded, (h, w))
            for i, norm in enumerate(self.norm2)
        ]


class WMCA(nn.Module):
    """T × (B, C, H, W) -> T × (B, C, H, W) through ``num_layers`` WMCA layers.

    With ``reduction > 1`` each task is first projected to C / reduction channels (1×1 conv) and back
    afterwards; with ``pool`` the attention runs on a 2×2 max-pooled map that is upsampled back
    (bilinear, align_corners=True). The lightweight decoder uses both (reduction 4).
    """

    def __init__(self, channels: int, num_layers: int = 2, num_heads: int = 4, window: int = 7, reduction: int = 1,
                 pool: bool = False, num_tasks: int = 4):  # fmt: skip
        super().__init__()
        inner = channels // reduction
        self.reduce = nn.ModuleList(nn.Conv2d(channels, inner, 1) for _ in range(num_tasks)) if reduction > 1 else None
        self.expand = nn.ModuleList(nn.Conv2d(inner, channels, 1) for _ in range(num_tasks)) if reduction > 1 else None
        self.pool = pool
        self.layers = nn.ModuleList(WMCALayer(inner, num_heads, window, num_tasks=num_tasks) for _ in range(num_layers))

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.reduce is not None:
            feats = [conv(x) for conv, x in zip(self.reduce, feats)]
        if self.pool:
            feats = [F.max_pool2d(x, 2) for x in feats]
        for layer in self.layers:
            feats = layer(feats)
        if self.pool:
            feats = [upsample2x(x) for x in feats]
        if self.expand is not None:
            feats = [conv(x) for conv, x in zip(self.expand, feats)]
        return feats
