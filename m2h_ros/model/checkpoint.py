"""Checkpoints: one ``.safetensors`` file per network, with a JSON header.

The metadata entry ``m2h_ros`` holds JSON: the model configuration (so the file alone rebuilds the
network), the label space, and free-form ``training_data`` and ``metrics``. The authors' M2H ``.pt``
state dicts convert into this format through the renaming rules of :mod:`m2h_ros.model.loading`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import safe_open, save_file
from torch import nn

from m2h_ros.config import from_dict, to_dict
from m2h_ros.errors import CheckpointError, ConfigError
from m2h_ros.model.build import ModelConfig, build_model
from m2h_ros.model.loading import (
    M2H_LIGHT_RULES,
    M2H_RULES,
    convert_state_dict,
    load_state_dict_strict,
    read_safetensors,
    read_torch_state_dict,
    rename,
)

HEADER_KEY = "m2h_ros"
FORMAT_VERSION = 1


def save_checkpoint(model: nn.Module, path: str | Path, *, training_data: dict | None = None,
                    metrics: dict | None = None, dtype: torch.dtype | None = None) -> Path:  # fmt: skip
    """Write ``model`` (built by :func:`~m2h_ros.model.build.build_model`) as safetensors with its header.
    ``dtype`` (e.g. float16) stores the floating-point tensors in that type; loading restores the model's."""
    path = Path(path)
    header = {
        "format": FORMAT_VERSION,
        "config": to_dict(model.config),
        "label_space": model.config.label_space,
        "training_data": training_data or {},
        "metrics": metrics or {},
    }
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata={HEADER_KEY: json.dumps(header)})
    tmp.replace(path)
    return path


def read_header(path: str | Path) -> dict:
    """The JSON header of a checkpoint; CheckpointError if the file is not one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError) as e:
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({e}); convert .pt files with `m2h convert`"
        ) from None
    if HEADER_KEY not in meta:
        raise CheckpointError(f"{path}: safetensors file without an m2h_ros header; convert it with `m2h convert`")
    try:
        return json.loads(meta[HEADER_KEY])
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: corrupted m2h_ros header ({e})") from None


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", **overrides) -> nn.Module:
    """Rebuild the network stored in ``path`` and load its weights (strict)."""
    header = read_header(path)
    try:
        cfg = from_dict(ModelConfig, header.get("config", {}), source=f"{path} header")
    except ConfigError as e:
        raise CheckpointError(str(e)) from None
    # Weights come from the file: never fetch or read backbone weights again.
    model = build_model(cfg, init_backbone=False, **overrides)
    state = read_safetensors(path, device=str(map_location))
    load_state_dict_strict(model, state, str(path))
    model.header = header
    return model


def to_authors_layout(model: nn.Module) -> dict[str, torch.Tensor]:
    """This network's state dict in the authors' key layout (what their code saves)."""
    rules = M2H_LIGHT_RULES if model.config.light else M2H_RULES
    return {rename(k, rules, reverse=True): v for k, v in model.state_dict().items()}


def convert_authors_checkpoint(src: str | Path, variant: str = "m2h", **overrides) -> nn.Module:
    """Load one of the authors' M2H ``.pt`` state dicts into a freshly built ``variant`` (strict).
    ``overrides`` change the variant's config, e.g. ``channels=96`` for the authors' lightweight code."""
    model = build_model(variant, init_backbone=False, **overrides)
    rules = M2H_LIGHT_RULES if model.config.light else M2H_RULES
    state = convert_state_dict(read_torch_state_dict(src), rules, str(src))
    # the decoder width C: output channels of the depth task's fusion projection (plain or separable)
    project = state.get(
        "decoder.msf.depth.project.conv.weight", state.get("decoder.msf.depth.project.conv.pointwise.weight")
    )
    if project is not None and project.shape[0] != model.config.channels:
        raise CheckpointError(f"{src} has a decoder of width C = {project.shape[0]}, the {variant} variant C = "
                              f"{model.config.channels}: convert with --channels {project.shape[0]}")  # fmt: skip
    load_state_dict_strict(model, state, str(src))
    return model
