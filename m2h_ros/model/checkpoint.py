"""Checkpoints: safetensors with a JSON header, and conversion of foreign weights.

A checkpoint is one ``.safetensors`` file whose metadata entry ``m2h_ros`` holds JSON: the model
configuration (so the file alone rebuilds the network), the label space, and free-form
``training_data`` and ``metrics``.

Foreign ``.pt``/``.pth`` files are read with ``torch.load(weights_only=True)``. The authors' M2H
state dicts (``backbone.*`` in torch.hub DINOv2 naming, ``mlt_head.*``) are renamed by one rule tree
(:data:`M2H_RULES` / :data:`M2H_LIGHT_RULES`) that also runs in reverse to write that layout.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

HEADER_KEY = "m2h_ros"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A weights file is unreadable, corrupted, or does not match the network."""


# ---------------------------------------------------------------------------------------------------
# Key renaming. A rule is (prefix in the authors' layout, prefix here[, sub-rules for the remainder]);
# "{i}" matches a number. The first rule whose prefix matches wins, in either direction.

Rule = tuple  # (str, str) or (str, str, list[Rule])


def _rules(light: bool) -> list[Rule]:
    if light:
        up = [("conv1.", "body.0."), ("bn1.", "body.1."), ("conv2.", "body.3."), ("bn2.", "body.4."),
              ("refine_conv.", "up.1."), ("residual.", "residual."), ("channel_attn.", "attn.")]  # fmt: skip
        aspp = [("aspp1.", "branches.0."), ("aspp2.", "branches.1."), ("global_avg_pool.", "pool."),
                ("project.", "project.")]  # fmt: skip
        refine = [("conv.0.", "convs.0.conv.")]
        fusion = [("res_unit.block.1.", "rcu2.conv1.conv."), ("project.", "project.")]
    else:
        up = [("upsample.0.", "body.0."), ("upsample.1.", "body.1."), ("upsample.3.", "body.3."),
              ("upsample.4.", "body.4."), ("upsample.6.", "up."), ("residual.", "residual."),
              ("channel_attn.", "attn.")]  # fmt: skip
        aspp = [("aspp1.", "branches.0."), ("aspp2.", "branches.1."), ("aspp3.", "branches.2."),
                ("aspp4.", "branches.3."), ("global_avg_pool.", "pool."), ("conv1.", "project.0."),
                ("bn1.", "project.1.")]  # fmt: skip
        refine = [("conv1.", "convs.0."), ("conv2.", "convs.1.")]
        fusion = [("res_conv_unit1.", "rcu1."), ("res_conv_unit2.", "rcu2."), ("project.", "project.")]
    dense = [("aspp.", "aspp.", aspp), ("upsample1.", "up.0.", up), ("upsample2.", "up.1.", up),
             ("refine.", "refine.", refine), ("final_conv.", "out."), ("spatial_attn.", "attn.")]  # fmt: skip
    simple = [("head.0.", "up.0.", up), ("head.1.", "up.1.", up), ("head.2.", "out.")]
    unique = [("reassemble.projects.", "project."), ("reassemble.resize_layers.", "resize."),
              ("conv_proj.", "conv_proj."), ("fusion_block.", "fusion.", fusion)]  # fmt: skip
    wmca = [("norm_layers.", "norm1."), ("norm2_layers.", "norm2."), ("attn.", "attn."), ("ffn_fc1.", "fc1."),
            ("ffn_fc2.", "fc2.")]  # fmt: skip
    ggfm = [("conv_orig.", "proj_o."), ("conv_attn.", "proj_a."), ("conv_uniq.", "proj_u."), ("gate_fc.", "gate."),
            ("ffn.", "ffn."), ("out_conv.", "out.")]  # fmt: skip
    tasks = {"edges": "edges", "normals": "normals", "sem_seg": "semseg", "depth": "depth"}  # WMCA order
    head = [
        ("reassemble_blocks.readout_projects.", "mstr.readout."),
        ("reassemble_blocks.projects.", "mstr.project."),
        ("reassemble_blocks.resize_layers.", "mstr.resize."),
        ("convs.", "mstr.convs."),
        *[(f"fusion_blocks_{a}.{{i}}.", f"msf.{o}.fusion.{{i}}.", fusion) for a, o in tasks.items()],
        *[(f"project_{a}.", f"msf.{o}.project.") for a, o in tasks.items()],
        ("cross_attn.{i}.", "wmca.layers.{i}.", wmca),
        *[(f"pre_attn_proj.{a}.", f"wmca.reduce.{k}.") for k, a in enumerate(tasks)],
        *[(f"post_attn_proj.{a}.", f"wmca.expand.{k}.") for k, a in enumerate(tasks)],
        ("unique_depth_feature.", "unique.depth.", unique),
        ("unique_semantic_feature.", "unique.semseg.", unique),
        ("restore_depth.", "ggfm.depth.", ggfm),
        ("restore_semseg.", "ggfm.semseg.", ggfm),
        ("conv_depth.", "heads.depth.", dense),
        ("seg_out.", "heads.semseg.", dense),
        ("conv_normal.", "heads.normals.", simple),
        ("conv_edge.", "heads.edges.", simple),
    ]
    return [("mlt_head.", "decoder.", head), ("backbone.", "backbone.", DINOV2_RULES)]


# torch.hub DINOv2 -> this backbone: timm's ViT under .vit, plus the mask token.
DINOV2_RULES: list[Rule] = [("mask_token", "mask_token"), ("", "vit.")]
# ViT-g's SwiGLU weights are mlp.w12/w3 in DINOv2 and mlp.fc1/fc2 in timm (one way only: the other
# sizes use fc1/fc2 in both).
_SWIGLU = (re.compile(r"\.mlp\.w12\."), ".mlp.fc1."), (re.compile(r"\.mlp\.w3\."), ".mlp.fc2.")
M2H_RULES = _rules(light=False)
M2H_LIGHT_RULES = _rules(light=True)


def _compile(prefix: str) -> re.Pattern:
    return re.compile(re.escape(prefix).replace(r"\{i\}", r"(\d+)"))


def rename(key: str, rules: list[Rule], reverse: bool = False) -> str | None:
    """Rename one key by the first matching rule (authors' -> ours, or back with ``reverse``); None if none matches."""
    for rule in rules:
        src, dst = (rule[1], rule[0]) if reverse else (rule[0], rule[1])
        m = _compile(src).match(key)
        if m is None:
            continue
        head = dst
        for value in m.groups():
            head = head.replace("{i}", value, 1)
        rest = key[m.end() :]
        if len(rule) == 3:
            rest = rename(rest, rule[2], reverse)
            if rest is None:
                return None
        return head + rest
    return None


# ---------------------------------------------------------------------------------------------------
# Loading and saving


def _summary(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return f"{shown}, ... ({len(names)} in all)" if len(names) > limit else shown


def load_state_dict_strict(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``module`` exactly: every missing, unexpected or mis-shaped key is reported."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(
        f"{k} {tuple(state[k].shape)} (network: {tuple(own[k].shape)})"
        for k in set(own) & set(state)
        if state[k].shape != own[k].shape
    )
    problems = []
    if missing:
        problems.append(f"missing keys: {_summary(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_summary(unexpected)}")
    if shapes:
        problems.append(f"shape mismatches: {_summary(shapes)}")
    if problems:
        raise CheckpointError(f"{source} does not match the network: " + "; ".join(problems))
    module.load_state_dict(state, strict=True)


def save_checkpoint(model: nn.Module, path: str | Path, *, training_data: dict | None = None,
                    metrics: dict | None = None, dtype: torch.dtype | None = None) -> Path:  # fmt: skip
    """Write ``model`` (built by :func:`~m2h_ros.model.build.build_model`) as safetensors with its header.
    ``dtype`` (e.g. float16) stores the floating-point tensors in that type; loading restores the model's."""
    from m2h_ros.config import to_dict

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
    from m2h_ros.config import ConfigError, from_dict
    from m2h_ros.model.build import ModelConfig, build_model

    header = read_header(path)
    try:
        cfg = from_dict(ModelConfig, header.get("config", {}), source=f"{path} header")
    except ConfigError as e:
        raise CheckpointError(str(e)) from None
    # Weights come from the file: never fetch or read backbone weights again.
    model = build_model(cfg, init_backbone=False, **overrides)
    try:
        state = load_file(str(path), device=str(map_location))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: corrupted tensor data ({e})") from None
    load_state_dict_strict(model, state, str(path))
    model.header = header
    return model


def read_torch_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a foreign ``.pt``/``.pth`` file (``weights_only=True``), unwrapped from common containers."""
    path = Path(path)
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as e:  # torch raises several types for corrupted or unsafe pickles
        raise CheckpointError(f"{path}: cannot be read as a weights-only PyTorch file ({e})") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: expected a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def convert_state_dict(state: dict[str, torch.Tensor], rules: list[Rule], source: str) -> dict[str, torch.Tensor]:
    """Rename every key of a foreign state dict; keys no rule knows are an error that names them."""
    out, unknown = {}, []
    for key, value in state.items():
        for pattern, replacement in _SWIGLU:
            key = pattern.sub(replacement, key)
        new = rename(key, rules)
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if unknown:
        raise CheckpointError(f"{source}: keys not in the M2H layout: {_summary(sorted(unknown))}")
    return out


def to_authors_layout(model: nn.Module) -> dict[str, torch.Tensor]:
    """This network's state dict in the authors' key layout (what their code saves)."""
    rules = M2H_LIGHT_RULES if model.config.light else M2H_RULES
    return {rename(k, rules, reverse=True): v for k, v in model.state_dict().items()}


def convert_authors_checkpoint(src: str | Path, variant: str = "m2h", **overrides) -> nn.Module:
    """Load one of the authors' M2H ``.pt`` state dicts into a freshly built ``variant`` (strict)."""
    from m2h_ros.model.build import build_model

    model = build_model(variant, init_backbone=False, **overrides)
    rules = M2H_LIGHT_RULES if model.config.light else M2H_RULES
    state = convert_state_dict(read_torch_state_dict(src), rules, str(src))
    load_state_dict_strict(model, state, str(src))
    return model


def load_dinov2_weights(backbone: nn.Module, path: str | Path) -> None:
    """Load DINOv2 weights (torch.hub or timm naming; .pth/.pt or .safetensors) into a DinoV2Backbone."""
    path = Path(path)
    if path.suffix == ".safetensors":
        try:
            state = load_file(str(path))
        except (SafetensorError, OSError) as e:
            raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    else:
        state = read_torch_state_dict(path)
    state = {k: v for k, v in state.items() if not k.startswith("head.")}  # classifier heads, if any
    if "mask_token" not in state:  # timm-named files carry no mask token
        state["mask_token"] = backbone.mask_token.detach().clone()
    load_state_dict_strict(backbone, convert_state_dict(state, DINOV2_RULES, str(path)), str(path))
