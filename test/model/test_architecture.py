"""The network matches the released M2H: parameters, shapes, compute; and the blocks behave as specified."""

import pytest
import torch

from m2h_ros.model.backbone import center_pad
from m2h_ros.model.build import VARIANTS, build_model, variant_config
from m2h_ros.model.flops import count_macs
from m2h_ros.model.wmca import WMCALayer, window_partition, window_reverse


def n_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(("variant", "total"), [("m2h", 81_540_240), ("m2h_small", 33_768_416)])
def test_parameter_counts_match_release(meta_model, variant, total):
    model = meta_model(variant)
    assert n_params(model) == total
    assert n_params(model.backbone) == 22_056_576  # DINOv2 ViT-S/14 incl. mask token and final norm


def test_component_parameter_counts_match_blueprint(meta_model):
    d = meta_model("m2h").decoder
    mstr_reassemble = n_params(d.mstr) - n_params(d.mstr.convs)
    assert round(mstr_reassemble / 1e6, 3) == 2.860 and round(n_params(d.mstr.convs) / 1e6, 3) == 1.659
    assert round((n_params(d.msf["depth"]) - n_params(d.msf["depth"].project)) / 1e6, 3) == 8.521
    assert round(n_params(d.wmca) / 1e6, 3) == 1.586
    assert round(n_params(d.unique["depth"]) / 1e6, 3) == 3.606
    assert round(n_params(d.heads["depth"]) / 1e6, 3) == 2.994 and round(n_params(d.heads["semseg"]) / 1e6, 3) == 2.996
    assert round(n_params(d.heads["normals"]) / 1e6, 3) == 0.688 == round(n_params(d.heads["edges"]) / 1e6, 3)
    assert round(n_params(d.ggfm["depth"]) / 1e6, 3) == 1.180


def _trace(model, size):
    shapes = {}

    def hook(name):
        return lambda mod, inp, out: shapes.setdefault(name, out)

    d = model.decoder
    d.mstr.register_forward_hook(hook("mstr"))
    d.msf["depth"].register_forward_hook(hook("msf"))
    d.unique["depth"].register_forward_hook(hook("unique"))
    d.heads["semseg"].register_forward_hook(hook("head"))
    model.backbone.register_forward_hook(hook("backbone"))
    out = model(torch.empty(1, 3, *size, device="meta"))
    return shapes, out


@pytest.mark.parametrize(
    ("size", "grid", "mstr", "msf", "head"),
    [
        ((224, 224), (16, 16), [(64, 64), (32, 32), (16, 16), (8, 8)], (128, 128), (512, 512)),
        ((448, 576), (32, 42), [(128, 168), (64, 84), (32, 42), (16, 21)], (256, 336), (1024, 1344)),
    ],
)
def test_shape_trace_matches_blueprint(meta_model, size, grid, mstr, msf, head):
    shapes, out = _trace(meta_model("m2h"), size)
    feats = shapes["backbone"]
    assert [tuple(t.shape) for t in feats.tokens] == [(1, 384, *grid)] * 4
    assert [tuple(c.shape) for c in feats.cls] == [(1, 384)] * 4
    assert [tuple(f.shape) for f in shapes["mstr"]] == [(1, 256, *s) for s in mstr]
    assert tuple(shapes["msf"].shape) == (1, 256, *msf)
    assert tuple(shapes["unique"].shape) == (1, 256, *grid)
    assert tuple(shapes["head"].shape) == (1, 41, *head)
    assert [tuple(o.shape) for o in out] == [(1, 1, *size), (1, 41, *size), (1, 3, *size), (1, 1, *size)]


@pytest.mark.parametrize(
    ("variant", "size", "gmac", "backbone_gmac"),
    [
        ("m2h", (224, 224), 447.0, 6.1),
        ("m2h", (448, 576), 2318.8, 45.5),
        ("m2h_small", (224, 224), 57.5, 6.1),
        ("mtmamba", (224, 224), 14.25, 6.1),  # 2.6 GMAC of it is the selective scan, counted analytically
    ],
)
def test_counted_macs_match_blueprint(meta_model, variant, size, gmac, backbone_gmac):
    model = meta_model(variant)
    x = torch.empty(1, 3, *size, device="meta")
    assert count_macs(model, x) / 1e9 == pytest.approx(gmac, abs=0.1)
    assert count_macs(model.backbone, x) / 1e9 == pytest.approx(backbone_gmac, abs=0.1)


def test_lite_variant_fits_the_cpu_budget(meta_model):
    model = meta_model("m2h_lite")
    assert count_macs(model, torch.empty(1, 3, 224, 224, device="meta")) <= 10e9
    assert variant_config("m2h_lite").backbone == "efficientnet_lite0"


def test_center_pad_splits_floor_first():
    x = torch.ones(1, 1, 576, 481)
    y = center_pad(x)
    assert y.shape[-2:] == (588, 490)
    assert y[0, 0, :6].sum() == 0 and y[0, 0, 6:582].sum() > 0 and y[0, 0, 582:].sum() == 0
    assert y[0, 0, :, :4].sum() == 0 and y[0, 0, :, 4].sum() > 0 and y[0, 0, :, 485:].sum() == 0


def test_window_partition_round_trip_and_layout():
    x = torch.arange(2 * 3 * 10 * 9, dtype=torch.float32).view(2, 3, 10, 9)
    win, padded = window_partition(x, 7)
    assert padded == (14, 14) and win.shape == (2 * 4, 49, 3)
    assert torch.equal(win[0, :7, 0], x[0, 0, 0, :7])  # row-major within a window
    assert torch.equal(window_reverse(win, 7, 2, padded, (10, 9)), x)


def test_wmca_attends_within_windows_across_tasks():
    torch.manual_seed(0)
    layer = WMCALayer(16, num_heads=4, window=7).eval()
    feats = [torch.randn(1, 16, 14, 14) for _ in range(4)]
    base = layer(feats)
    poked = [f.clone() for f in feats]
    poked[2][0, :, 0, 0] = torch.randn(16)  # one pixel of the semantics map, in the top-left window
    out = layer(poked)
    for t in range(4):  # every task's top-left window changes (cross-task attention) ...
        assert not torch.allclose(out[t][..., :7, :7], base[t][..., :7, :7])
        # ... and no other window does (windows neither overlap nor shift)
        assert torch.allclose(out[t][..., 7:, :], base[t][..., 7:, :], atol=1e-6)
        assert torch.allclose(out[t][..., :, 7:], base[t][..., :, 7:], atol=1e-6)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_outputs_follow_the_conventions(variant):
    import torch.nn.functional as F

    torch.manual_seed(0)
    model = build_model(variant).eval()
    x = torch.randn(2, 3, 70, 98)
    with torch.no_grad():
        out = model(x)
        raw = model.decoder(model.backbone(x))

    def resized(t):
        return F.interpolate(t, size=(70, 98), mode="bilinear", align_corners=False)

    torch.testing.assert_close(out.depth, resized(F.relu(raw["depth"]) + model.min_depth))
    unit = F.normalize(raw["normals"], dim=1)
    torch.testing.assert_close(unit.norm(dim=1), torch.ones_like(unit[:, 0]))  # unit before the final resize
    torch.testing.assert_close(out.normals, resized(unit))
    torch.testing.assert_close(out.semseg, resized(raw["semseg"]))
    torch.testing.assert_close(out.edges, resized(raw["edges"]))
    assert out.semseg.shape == (2, model.config.num_classes, 70, 98)
    assert (out.depth >= model.min_depth - 1e-6).all()
    if variant != "mtmamba":  # M2H's normal head ends in tanh
        assert raw["normals"].abs().max() <= 1


def test_frozen_backbone_gets_no_gradients():
    model = build_model("m2h_lite", frozen_backbone=True)
    out = model(torch.randn(1, 3, 56, 56))
    sum(o.float().mean() for o in out).backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert any(p.grad is not None for p in model.decoder.parameters())


def test_invalid_configurations_name_the_key():
    with pytest.raises(ValueError, match="unknown model variant 'm3h'"):
        variant_config("m3h")
    with pytest.raises(ValueError, match="'backbone' must be one of"):
        variant_config("m2h", backbone="resnet50")
    with pytest.raises(ValueError, match="'wmca_heads' must divide"):
        variant_config("m2h", wmca_heads=3)
