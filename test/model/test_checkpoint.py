"""Checkpoints: safetensors round trip, the authors' .pt layout, DINOv2 weights, and clear failures."""

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

# Keys and shapes as the released M2H code names them (UAV-Centre-ITC/M2H, models/full.py, ViT-S).
AUTHORS_KEYS = {
    "backbone.mask_token": (1, 384),
    "backbone.pos_embed": (1, 1370, 384),
    "backbone.blocks.11.ls2.gamma": (384,),
    "backbone.norm.weight": (384,),
    "mlt_head.reassemble_blocks.readout_projects.3.0.weight": (384, 768),
    "mlt_head.reassemble_blocks.projects.0.conv.weight": (48, 384, 1, 1),
    "mlt_head.reassemble_blocks.resize_layers.0.weight": (48, 48, 4, 4),
    "mlt_head.convs.3.conv.weight": (256, 384, 3, 3),
    "mlt_head.fusion_blocks_sem_seg.1.res_conv_unit1.conv2.conv.weight": (256, 256, 3, 3),
    "mlt_head.fusion_blocks_edges.0.project.conv.bias": (256,),
    "mlt_head.project_depth.conv.weight": (256, 256, 3, 3),
    "mlt_head.cross_attn.1.attn.in_proj_weight": (768, 256),
    "mlt_head.cross_attn.0.norm2_layers.3.bias": (256,),
    "mlt_head.cross_attn.0.ffn_fc1.weight": (1024, 256),
    "mlt_head.unique_semantic_feature.reassemble.resize_layers.weight": (384, 384, 3, 3),
    "mlt_head.unique_depth_feature.fusion_block.res_conv_unit2.conv1.conv.weight": (256, 256, 3, 3),
    "mlt_head.restore_depth.gate_fc.0.weight": (256, 768, 1, 1),
    "mlt_head.restore_semseg.ffn.0.weight": (1024, 256, 1, 1),
    "mlt_head.conv_depth.aspp.aspp4.0.weight": (256, 256, 3, 3),
    "mlt_head.conv_depth.aspp.global_avg_pool.2.weight": (256,),
    "mlt_head.conv_depth.upsample1.upsample.6.weight": (128, 128, 2, 2),
    "mlt_head.conv_depth.refine.conv2.conv.weight": (64, 64, 3, 3),
    "mlt_head.conv_depth.final_conv.weight": (1, 64, 3, 3),
    "mlt_head.seg_out.final_conv.weight": (41, 64, 1, 1),
    "mlt_head.seg_out.spatial_attn.0.weight": (1, 64, 3, 3),
    "mlt_head.conv_normal.head.1.channel_attn.1.weight": (16, 64, 1, 1),
    "mlt_head.conv_edge.head.2.weight": (1, 64, 1, 1),
}
AUTHORS_LIGHT_KEYS = {
    "mlt_head.fusion_blocks_depth.2.res_unit.block.1.depthwise.weight": (256, 1, 3, 3),
    "mlt_head.pre_attn_proj.sem_seg.weight": (64, 256, 1, 1),
    "mlt_head.post_attn_proj.edges.bias": (256,),
    "mlt_head.cross_attn.0.attn.in_proj_weight": (192, 64),
    "mlt_head.conv_depth.aspp.project.0.weight": (256, 384, 1, 1),
    "mlt_head.conv_depth.upsample1.refine_conv.weight": (128, 32, 1, 1),
    "mlt_head.seg_out.refine.conv.0.pointwise.weight": (64, 64, 1, 1),
    "mlt_head.restore_depth.gate_fc.0.weight": (768, 768, 1, 1),
}


@pytest.mark.parametrize(("variant", "expected"), [("m2h", AUTHORS_KEYS), ("m2h_small", AUTHORS_LIGHT_KEYS)])
def test_authors_layout_has_the_released_key_names(meta_model, variant, expected):
    layout = to_authors_layout(meta_model(variant))
    for key, shape in expected.items():
        assert key in layout, key
        assert tuple(layout[key].shape) == shape, key


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
