"""MSTR: Multi-Scale Token Reassembly (DPT-style), shared by all tasks.

Each tapped backbone level is read out (patch token ⊕ class token → Linear → GELU), projected to
``channels[i]`` by a 1×1 conv, resized to stride 14/4, 14/2, 14 and 28, and projected to the decoder
width C by a 3×3 conv. At 224×224 with ViT-S: 384@16² → 256@64², 256@32², 256@16², 256@8².
"""

from __future__ import annotations

import torch
from torch import nn

from m2h_ros.model.layers import ConvAct


class MSTR(nn.Module):
    """list of 4 × ((B, E, h, w), (B, E)) -> list of 4 × (B, C, 4h / 2h / h / ceil(h/2), ...).

    ``out_channels=None`` leaves each level at its reassembly width ``channels[i]`` (the MTMamba decoder
    takes the pyramid that way).
    """

    def __init__(self, embed_dim: int, channels: tuple[int, ...], out_channels: int | None,
                 separable: bool = False):  # fmt: skip
        super().__init__()
        self.readout = nn.ModuleList(nn.Sequential(nn.Linear(2 * embed_dim, embed_dim), nn.GELU()) for _ in channels)
        self.project = nn.ModuleList(ConvAct(embed_dim, c, 1, act=None, separable=separable) for c in channels)
        c0, c1, _, c3 = channels
        self.resize = nn.ModuleList([
            nn.ConvTranspose2d(c0, c0, kernel_size=4, stride=4),
            nn.ConvTranspose2d(c1, c1, kernel_size=2, stride=2),
            nn.Identity(),
            nn.Conv2d(c3, c3, kernel_size=3, stride=2, padding=1),
        ])  # fmt: skip
        self.convs = nn.ModuleList(
            ConvAct(c, out_channels, 3, padding=1, bias=False, act=None, separable=separable) if out_channels else
            nn.Identity() for c in channels
        )  # fmt: skip

    def forward(self, tokens: list[torch.Tensor], cls: list[torch.Tensor]) -> list[torch.Tensor]:
        out = []
        for i, (x, c) in enumerate(zip(tokens, cls)):
            b, e, h, w = x.shape
            seq = x.flatten(2).transpose(1, 2)  # (B, h*w, E)
            seq = self.readout[i](torch.cat([seq, c[:, None].expand_as(seq)], dim=-1))
            x = seq.transpose(1, 2).reshape(b, e, h, w)
            out.append(self.convs[i](self.resize[i](self.project[i](x))))
        return out
