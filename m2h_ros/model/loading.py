"""Foreign weights into this package's modules: key renaming and strict loading, kept apart from the
builder (as timm keeps its hub code apart from its models), so that nothing here imports back.

- The authors' M2H state dicts (``backbone.*`` in torch.hub DINOv2 naming, ``mlt_head.*``) are renamed
  by one rule tree (:data:`M2H_RULES` / :data:`M2H_LIGHT_RULES`) that also runs in reverse to write
  that layout.
- DINOv2 weights (torch.hub or timm naming) load into a DINOv2 backbone.
- EfficientNet-Lite ImageNet weights (``efficientnet_pytorch`` layout, ``_blocks.<k>._depthwise_conv``)
  are renamed onto timm's ``tf_efficientnet_liteN`` (``blocks.<stage>.<j>.conv_dw``) in the manner of
  timm's own per-model ``checkpoint_filter_fn``.

Foreign ``.pt``/``.pth`` files are read with ``torch.load(weights_only=True)``; every load is strict
and its error lists each missing, unexpected or mis-shaped key.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from m2h_ros.errors import CheckpointError

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
# Loading


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


def read_safetensors(path: str | Path, device: str = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` file; CheckpointError if it cannot be read."""
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None


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


def load_dinov2_weights(backbone: nn.Module, path: str | Path) -> None:
    """Load DINOv2 weights (torch.hub or timm naming; .pth/.pt or .safetensors) into a DinoV2Backbone."""
    path = Path(path)
    state = read_safetensors(path) if path.suffix == ".safetensors" else read_torch_state_dict(path)
    state = {k: v for k, v in state.items() if not k.startswith("head.")}  # classifier heads, if any
    if "mask_token" not in state:  # timm-named files carry no mask token
        state["mask_token"] = backbone.mask_token.detach().clone()
    load_state_dict_strict(backbone, convert_state_dict(state, DINOV2_RULES, str(path)), str(path))


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


def load_efficientnet_weights(model: nn.Module, path: str | Path) -> None:
    """Load ImageNet weights in the ``efficientnet_pytorch`` layout into timm's EfficientNet ``model``, strictly. A feature extractor leaves out the classifier's
    layers (``conv_head``, ``bn2``, ``classifier``); anything else missing, unexpected or mis-shaped is
    an error that lists every such key."""
    state = checkpoint_filter_fn(read_torch_state_dict(path), model)
    if not hasattr(model, "classifier"):
        state = {k: v for k, v in state.items() if k.split(".")[0] not in ("conv_head", "bn2", "classifier")}
    load_state_dict_strict(model, state, str(path))
