"""Checkpoints: safetensors round trip, the authors' .pt layout, DINOv2 weights, and clear failures."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from m2h_ros.errors import CheckpointError
from m2h_ros.model.backbone import DinoV2Backbone
from m2h_ros.model.build import build_model
from m2h_ros.model.checkpoint import (
    convert_authors_checkpoint,
    load_checkpoint,
    read_header,
    save_checkpoint,
    to_authors_layout,
)

# Every key and shape of the authors' released models, dumped from their code (see its "source"), not
# from this project's rules.
RELEASED_LAYOUT = json.loads((Path(__file__).parent / "data" / "m2h_authors_keys.json").read_text())


@pytest.mark.parametrize(("flavor", "variant", "overrides"), [("default", "m2h", {}),
                                                               ("lightweight", "m2h_small", {"channels": 96})])  # fmt: skip
def test_authors_layout_is_exactly_the_released_key_names_and_shapes(meta_model, flavor, variant, overrides):
    layout = {k: list(v.shape) for k, v in to_authors_layout(meta_model(variant, **overrides)).items()}
    assert layout == RELEASED_LAYOUT[flavor]


@pytest.mark.slow
def test_authors_checkpoint_converts_and_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model = build_model("m2h").eval()
    with torch.no_grad():  # non-trivial BN statistics, so that they are carried over too
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    pt = tmp_path / "m2h_authors.pt"
    torch.save({f"module.{k}": v for k, v in to_authors_layout(model).items()}, pt)  # DataParallel-style
    converted = convert_authors_checkpoint(pt, "m2h").eval()
    x = torch.randn(1, 3, 98, 112)
    with torch.no_grad():
        for a, b in zip(model(x), converted(x)):
            assert torch.equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize(("flavor", "variant", "overrides"), [("default", "m2h", {}),
                                                               ("lightweight", "m2h_small", {"channels": 96})])  # fmt: skip
def test_a_state_dict_in_the_released_layout_converts_strictly_and_keeps_every_value(
    tmp_path, flavor, variant, overrides
):
    g = torch.Generator().manual_seed(0)
    state = {key: 0.02 * torch.randn(shape, generator=g) for key, shape in RELEASED_LAYOUT[flavor].items()}
    for key in state:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = state[key].abs() + 0.5
    torch.save(state, tmp_path / "released.pt")
    model = convert_authors_checkpoint(tmp_path / "released.pt", variant, **overrides).eval()
    assert sum(p.numel() for p in model.parameters()) == {"default": 81_540_240, "lightweight": 29_042_096}[flavor]
    back = to_authors_layout(model)
    assert back.keys() == state.keys()
    assert all(torch.equal(back[k], state[k]) for k in state)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 56, 70))
    assert all(torch.isfinite(t).all() for t in out)


def test_safetensors_round_trip_with_header(tmp_path):
    torch.manual_seed(0)
    model = build_model("m2h_lite").eval()
    path = save_checkpoint(model, tmp_path / "lite.safetensors", training_data={"scenes": 3}, metrics={"miou": 0.5})
    header = read_header(path)
    assert header["config"]["variant"] == "m2h_lite" and header["label_space"] == "synthetic"
    assert header["training_data"] == {"scenes": 3} and header["metrics"] == {"miou": 0.5}
    loaded = load_checkpoint(path).eval()
    assert loaded.config == model.config
    x = torch.randn(1, 3, 56, 84)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(model(x), loaded(x)))


def test_corrupted_and_foreign_files_fail_clearly(tmp_path):
    model = build_model("m2h_lite")
    good = save_checkpoint(model, tmp_path / "good.safetensors")
    data = good.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.safetensors"):
        load_checkpoint(truncated)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01 not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(garbage)
    bare = tmp_path / "bare.safetensors"
    save_file({"w": torch.zeros(2)}, str(bare))
    with pytest.raises(CheckpointError, match="without an m2h_ros header"):
        load_checkpoint(bare)
    with pytest.raises(CheckpointError, match="no such weights file"):
        load_checkpoint(tmp_path / "absent.safetensors")


def test_mismatched_weights_name_the_keys(tmp_path):
    state = to_authors_layout(build_model("m2h_small"))
    del state["mlt_head.conv_edge.head.2.weight"]
    state["mlt_head.conv_edge.head.2.extra"] = torch.zeros(1)
    state["mlt_head.seg_out.final_conv.bias"] = torch.zeros(40)
    pt = tmp_path / "bad.pt"
    torch.save(state, pt)
    with pytest.raises(CheckpointError) as e:
        convert_authors_checkpoint(pt, "m2h_small")
    msg = str(e.value)
    assert "missing keys: decoder.heads.edges.out.weight" in msg
    assert "unexpected keys: decoder.heads.edges.out.extra" in msg
    assert "decoder.heads.semseg.out.bias (40,) (network: (41,))" in msg
    state = {"something.else": torch.zeros(1)}
    torch.save(state, pt)
    with pytest.raises(CheckpointError, match=r"keys not in the M2H layout: something\.else"):
        convert_authors_checkpoint(pt, "m2h_small")


def test_pickled_objects_are_refused(tmp_path):
    pt = tmp_path / "evil.pt"
    torch.save({"weights": torch.zeros(1), "callback": print}, pt)
    with pytest.raises(CheckpointError, match="weights-only"):
        convert_authors_checkpoint(pt)


def test_dinov2_weights_load_from_hub_and_timm_naming(tmp_path):
    torch.manual_seed(0)
    src = DinoV2Backbone("vit_tiny")
    with torch.no_grad():
        src.mask_token.normal_()
    hub = {k.removeprefix("vit."): v for k, v in src.state_dict().items()}  # torch.hub key names
    torch.save(hub, tmp_path / "dinov2_hub.pth")
    timm_named = {k.removeprefix("vit."): v.contiguous() for k, v in src.state_dict().items() if k.startswith("vit.")}
    save_file(timm_named, str(tmp_path / "dinov2_timm.safetensors"))
    from_hub = DinoV2Backbone("vit_tiny", weights=tmp_path / "dinov2_hub.pth")
    from_timm = DinoV2Backbone("vit_tiny", weights=tmp_path / "dinov2_timm.safetensors")
    for name, p in src.state_dict().items():
        assert torch.equal(from_hub.state_dict()[name], p), name
        if name != "mask_token":
            assert torch.equal(from_timm.state_dict()[name], p), name
    with pytest.raises(CheckpointError, match=r"shape mismatches: mask_token \(1, 192\) \(network: \(1, 384\)\)"):
        DinoV2Backbone("vit_small", weights=tmp_path / "dinov2_hub.pth")
