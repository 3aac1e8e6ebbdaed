"""The multi-task network: a backbone (DINOv2 or EfficientNet-Lite) and the M2H or MTMamba decoder.

M2H: DINOv2 backbone → MSTR → per-task MSF → WMCA → GGFM (depth, semantics) → heads. On a CNN
backbone, whose stages already form the stride 4–32 pyramid, lateral convolutions take MSTR's place.

Shapes at a 224×224 input with ViT-S/14 and C = 256 (the released model):
tokens 16×16×384 → MSTR 256@64², 32², 16², 8² → MSF 256@128² per task → WMCA 256@128² →
heads 512² → resized to 224². Unique DINOv2 features: 256@16².
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from m2h_ros.model.backbone import Features
from m2h_ros.model.ggfm import GGFM, UniqueFeature
from m2h_ros.model.heads import DenseHead, SimpleHead
from m2h_ros.model.layers import WMCA_ORDER, ConvAct
from m2h_ros.model.msf import MSF
from m2h_ros.model.mstr import MSTR
from m2h_ros.model.wmca import WMCA


class Outputs(NamedTuple):
    """Network outputs at the input resolution.

    depth (B, 1, H, W) metres; semseg (B, K, H, W) logits; normals (B, 3, H, W) camera frame, unit
    before the final resize; edges (B, 1, H, W) logits.
    """

    depth: torch.Tensor
    semseg: torch.Tensor
    normals: torch.Tensor
    edges: torch.Tensor


def metric_depth(depth: torch.Tensor, focal_px: torch.Tensor, depth_focal_px: float) -> torch.Tensor:
    """The network's depth (B, 1, H, W) in metres: × focal_px (B,) / depth_focal_px for a network that
    predicts for a canonical camera (``ModelConfig.depth_focal_px`` > 0), unchanged for one that does not.
    ``focal_px`` is each image's focal length in pixels as the network saw it."""
    if not depth_focal_px:
        return depth
    if not bool((focal_px > 0).all()):
        raise ValueError("a canonical-camera network needs each image's focal length (> 0)")
    return depth * (focal_px.to(depth) / depth_focal_px).view(-1, 1, 1, 1)


class Lateral(nn.Module):
    """list of 4 × (B, C_i, H_i, W_i) CNN stages -> list of 4 × (B, C, H_i, W_i): one 3×3 conv per stage,
    as MSTR's last projection (FPN's lateral connections, without the top-down sum that MSF does)."""

    def __init__(self, in_channels: tuple[int, ...], channels: int, separable: bool = False):
        super().__init__()
        self.convs = nn.ModuleList(
            ConvAct(c, channels, 3, padding=1, bias=False, act=None, separable=separable) for c in in_channels
        )

    def forward(self, stages: list[torch.Tensor]) -> list[torch.Tensor]:
        return [conv(x) for conv, x in zip(self.convs, stages)]


class M2HDecoder(nn.Module):
    """:class:`Features` -> raw per-task outputs (depth, semseg logits, normals, edge logits).

    Task features are at 8h × 8w (4h × 4w with ``msf_upsample_last=False``); each head upsampling
    stage doubles that. ``pyramid_channels`` (a CNN's stage widths, stride 4 to 32) replaces MSTR by
    :class:`Lateral`; the pyramid then starts at stride 4 instead of 3.5, and ``embed_dim`` is the
    width of the last stage, which the unique features read.
    """

    def __init__(self, embed_dim: int, channels: int = 256, light: bool = False, num_classes: int = 41,
                 wmca_layers: int = 2, wmca_heads: int = 4, wmca_window: int = 7, wmca_reduction: int = 1,
                 wmca_pool: bool = False, head_channels: tuple[int, ...] = (128, 64),
                 aspp_dilations: tuple[int, ...] = (6, 12, 18), aspp_reduction: int = 1,
                 msf_upsample_last: bool = True, pyramid_channels: tuple[int, ...] | None = None):  # fmt: skip
        super().__init__()
        if pyramid_channels is None:
            mstr_channels = tuple(embed_dim // 2 ** (3 - i) for i in range(4))
            self.mstr = MSTR(embed_dim, mstr_channels, channels, separable=light)
        else:
            self.lateral = Lateral(pyramid_channels, channels, separable=light)
        self.msf = nn.ModuleDict({t: MSF(channels, light, upsample_last=msf_upsample_last) for t in WMCA_ORDER})
        self.wmca = WMCA(channels, wmca_layers, wmca_heads, wmca_window, wmca_reduction, wmca_pool, len(WMCA_ORDER))
        self.unique = nn.ModuleDict(
            {t: UniqueFeature(embed_dim, channels, separable=light) for t in ("depth", "semseg")}
        )
        self.ggfm = nn.ModuleDict({t: GGFM(channels, light=light) for t in ("depth", "semseg")})
        dense = {
            "hidden": head_channels,
            "dilations": aspp_dilations,
            "aspp_reduction": aspp_reduction,
            "separable": light,
        }
        self.heads = nn.ModuleDict({
            "depth": DenseHead(channels, 1, 3, **dense),
            "semseg": DenseHead(channels, num_classes, 1, **dense),
            "normals": SimpleHead(channels, 3, head_channels, light),
            "edges": SimpleHead(channels, 1, head_channels, light),
        })  # fmt: skip

    def forward(self, feats: Features) -> dict[str, torch.Tensor]:
        pyramid = self.mstr(feats.tokens, feats.cls) if feats.cls else self.lateral(feats.tokens)
        task = {t: self.msf[t](pyramid) for t in WMCA_ORDER}
        attended = dict(zip(WMCA_ORDER, self.wmca([task[t] for t in WMCA_ORDER])))
        for t in ("depth", "semseg"):
            attended[t] = self.ggfm[t](attended[t], task[t], self.unique[t](feats.tokens[-1]))
        out = {t: self.heads[t](attended[t]) for t in WMCA_ORDER}
        out["normals"] = torch.tanh(out["normals"])  # M2H's normal head ends in tanh
        return out


class MTMambaHead(nn.Module):
    """:class:`Features` -> raw per-task outputs through the MTMamba decoder.

    The four MSTR reassembly levels (E/8@4h, E/4@2h, E/2@h, E@h/2; no projection to a common width)
    stand in for the Swin stages MTMamba was designed on; outputs come out at 16h × 16w.
    """

    def __init__(self, embed_dim: int, num_classes: int = 41, d_state: int = 16, ssm_ratio: int = 2,
                 drop_path: float = 0.2, scan_backend: str = "auto"):  # fmt: skip
        super().__init__()
        from m2h_ros.model.mtmamba import MTMambaDecoder

        channels = tuple(embed_dim // 2 ** (3 - i) for i in range(4))
        self.mstr = MSTR(embed_dim, channels, out_channels=None)
        outputs = {"semseg": num_classes, "depth": 1, "normals": 3, "edges": 1}
        self.mtmamba = MTMambaDecoder(channels, outputs, d_state, ssm_ratio, drop_path, scan_backend)

    def forward(self, feats: Features) -> dict[str, torch.Tensor]:
        return self.mtmamba(self.mstr(feats.tokens, feats.cls))


class MultiTaskNet(nn.Module):
    """(B, 3, H, W) normalised RGB -> :class:`Outputs` at H × W, for either decoder.

    Output conventions of M2H: depth = ReLU(x) + min_depth; normals L2-normalised; semantics and
    edges are logits. All four are resized bilinearly (align_corners=False) to the input.
    """

    def __init__(self, backbone: nn.Module, decoder: nn.Module, min_depth: float = 0.001):
        super().__init__()
        self.backbone = backbone
        self.decoder = decoder
        self.min_depth = min_depth

    def forward(self, img: torch.Tensor) -> Outputs:
        raw = self.decoder(self.backbone(img))
        depth = F.relu(raw["depth"]) + self.min_depth
        normals = F.normalize(raw["normals"], dim=1)
        size = img.shape[-2:]
        return Outputs(*(F.interpolate(x, size=size, mode="bilinear", align_corners=False)
                         for x in (depth, raw["semseg"], normals, raw["edges"])))  # fmt: skip
