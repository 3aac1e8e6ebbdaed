"""The Predictor and ONNX export."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from m2h_ros.inference import Predictor, PredictorConfig
from m2h_ros.inference.onnx_export import export_onnx, max_abs_difference
from m2h_ros.inference.postprocess import channel_argmax, upsample_outputs
from m2h_ros.model.build import build_model


@pytest.fixture(scope="module")
def lite():
    torch.manual_seed(0)
    return build_model("m2h_lite").eval()


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["m2h", "m2h_small", "m2h_lite"])
def test_onnx_matches_torch(tmp_path, variant):
    torch.manual_seed(0)
    model = build_model(variant).eval()
    path = export_onnx(model, tmp_path / f"{variant}.onnx", (84, 112))
    diff = max_abs_difference(model, path, torch.randn(1, 3, 84, 112))
    assert max(diff.values()) < 1e-3, diff


@pytest.mark.parametrize("shape", [(481, 641, 3), (481, 641), (97, 130, 4), (1, 1, 3)])
def test_predictor_any_size_and_channel_count(lite, shape):
    image = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    pred = Predictor(lite, PredictorConfig(input_size=(112, 112))).predict(image)
    h, w = shape[:2]
    assert pred.depth.shape == (h, w) and pred.depth.dtype == np.float32 and (pred.depth > 0).all()
    assert pred.labels.shape == (h, w) and pred.labels.dtype == np.int16
    assert pred.labels.min() >= 0 and pred.labels.max() < lite.config.num_classes
    assert pred.normals.shape == (h, w, 3)
    np.testing.assert_allclose(np.linalg.norm(pred.normals, axis=-1), 1.0, atol=1e-4)
    assert pred.edges.shape == (h, w) and 0 <= pred.edges.min() and pred.edges.max() <= 1
    assert set(pred.timings_ms) == {"preprocess", "network", "postprocess"}


@pytest.mark.parametrize("hw", [(480, 640), (37, 23), (1, 1), (30, 40)])
def test_upsampling_matches_torch_interpolate(hw):
    """The fused kernel samples exactly as F.interpolate: bilinear without corner alignment for depth,
    normals (then renormalised) and edges, nearest for labels; also when shrinking."""
    rng = np.random.default_rng(3)
    normals = rng.normal(size=(30, 40, 3)) + [0, 0, -2]  # far from zero length, as a network's are
    dense = np.concatenate([rng.uniform(0.1, 9, (30, 40, 1)), normals, rng.uniform(0, 1, (30, 40, 1))], -1)
    labels = rng.integers(0, 41, (30, 40)).astype(np.int16)
    depth, unit, edges, label_map = upsample_outputs(dense.astype(np.float32), labels, hw)

    x = torch.from_numpy(dense).permute(2, 0, 1)[None]
    ref = F.interpolate(x, size=hw, mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()
    ref_labels = F.interpolate(torch.from_numpy(labels)[None, None].float(), size=hw, mode="nearest")[0, 0]
    np.testing.assert_allclose(depth, ref[..., 0], atol=1e-5)
    np.testing.assert_allclose(edges, ref[..., 4], atol=1e-6)
    np.testing.assert_allclose(unit, ref[..., 1:4] / np.linalg.norm(ref[..., 1:4], axis=-1, keepdims=True), atol=1e-5)
    np.testing.assert_array_equal(label_map, ref_labels.numpy().astype(np.int16))
    assert label_map.dtype == np.int16 and depth.dtype == unit.dtype == edges.dtype == np.float32


def test_channel_argmax_matches_torch_with_ties():
    scores = np.random.default_rng(4).integers(0, 4, (13, 17, 6)).astype(np.float32)  # many ties
    expected = torch.from_numpy(scores).argmax(-1).numpy()
    labels = channel_argmax(scores)
    np.testing.assert_array_equal(labels, expected)
    assert labels.dtype == np.int16
    # a strided view (as a channels-first tensor permuted) gives the same answer
    np.testing.assert_array_equal(channel_argmax(np.moveaxis(np.moveaxis(scores, -1, 0).copy(), 0, -1)), expected)


def test_grey_input_is_the_same_as_its_rgb_expansion(lite):
    grey = np.random.default_rng(1).integers(0, 255, (60, 80), dtype=np.uint8)
    predictor = Predictor(lite, PredictorConfig(input_size=(56, 84)))
    a, b = predictor.predict(grey), predictor.predict(np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(a.depth, b.depth)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_batch_equals_single_images(lite):
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 255, (50, 70, 3), dtype=np.uint8), rng.integers(0, 255, (90, 40, 3), dtype=np.uint8)]
    predictor = Predictor(lite, PredictorConfig(input_size=(56, 56)))
    batch = predictor.predict_batch(images)
    for image, pred in zip(images, batch):
        single = predictor.predict(image)
        np.testing.assert_allclose(pred.depth, single.depth, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_onnxruntime_backend_agrees_with_torch(lite):
    image = np.random.default_rng(3).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    config = PredictorConfig(input_size=(112, 112))
    a = Predictor(lite, config).predict(image)
    b = Predictor(build_model("m2h_lite").eval().requires_grad_(False), config)
    b.model.load_state_dict(lite.state_dict())
    b = Predictor(b.model, PredictorConfig(input_size=(112, 112), backend="onnxruntime")).predict(image)
    np.testing.assert_allclose(a.depth, b.depth, rtol=1e-4, atol=1e-4)
    assert (a.labels == b.labels).mean() > 0.999


def test_bilinear_resize_feeds_the_network_what_the_authors_node_feeds_it(lite):
    import torch
    import torch.nn.functional as F

    image = np.random.default_rng(5).integers(0, 255, (240, 320, 3), dtype=np.uint8)  # fine detail, shrunk 2.9x
    fed = {r: Predictor(lite, PredictorConfig(input_size=(84, 112), resize=r)).preprocess([image])
           for r in ("antialias", "bilinear")}  # fmt: skip
    cfg = lite.config
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255  # the authors' node: /255, then resize
    authors = (F.interpolate(x, size=(84, 112), mode="bilinear", align_corners=False)
               - torch.tensor(cfg.mean).view(1, 3, 1, 1)) / torch.tensor(cfg.std).view(1, 3, 1, 1)  # fmt: skip
    torch.testing.assert_close(fed["bilinear"], authors, atol=1e-4, rtol=1e-4)
    assert (fed["antialias"] - authors).abs().max() > 0.5  # the default smooths before shrinking


def test_bad_inputs_and_settings_are_rejected(lite):
    predictor = Predictor(lite, PredictorConfig(input_size=(56, 56)))
    with pytest.raises(ValueError, match="expected a uint8 image"):
        predictor.predict(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="got shape"):
        predictor.predict(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ValueError, match="empty image"):
        predictor.predict(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="'dtype' fp16 needs device cuda"):
        PredictorConfig(device="cpu", dtype="fp16")
    with pytest.raises(ValueError, match="'input_size' must be within"):
        PredictorConfig(input_size=(8, 8))


def test_labels_are_ids_of_the_label_space_in_both_conventions():
    """A network without a void output (InvPT: 19 synthetic classes) publishes the same ids as one with it."""
    image = np.random.default_rng(4).integers(0, 255, (56, 56, 3), dtype=np.uint8)
    torch.manual_seed(0)
    invpt = build_model("m2h_lite", num_classes=19).eval()
    config = PredictorConfig(input_size=(56, 56), device="cpu")
    labels = Predictor(invpt, config).predict(image).labels
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (invpt.config.mean, invpt.config.std))
    with torch.no_grad():
        x = (torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255 - mean) / std
        argmax = invpt(x).semseg.argmax(1)[0].numpy()
    assert (labels == argmax + 1).mean() > 0.99  # channels_last may break near-ties differently
    assert labels.min() >= 1  # never void


def test_bundled_weights_on_a_real_photograph_give_plausible_outputs():
    """An indoor photograph (Middlebury's Motorcycle scene, shipped in scikit-image) through the
    bundled weights at their input size: every output finite, in its range, and varying."""
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the photograph")
    from m2h_ros.weights import BUNDLED_INPUT_SIZE, BUNDLED_WEIGHTS

    photo = skimage_data.stereo_motorcycle()[0]  # (500, 741, 3) uint8
    predictor = Predictor.from_checkpoint(BUNDLED_WEIGHTS, PredictorConfig(device="cpu", input_size=BUNDLED_INPUT_SIZE))
    pred = predictor.predict(photo)
    assert pred.depth.shape == photo.shape[:2] and np.isfinite(pred.depth).all()
    assert 0.1 < np.percentile(pred.depth, 5) < np.percentile(pred.depth, 95) < 20  # indoor metres, not constant
    assert np.isfinite(pred.normals).all()
    np.testing.assert_allclose(np.linalg.norm(pred.normals, axis=-1), 1.0, atol=1e-3)
    assert pred.normals.reshape(-1, 3).std(axis=0).max() > 0.1  # not one orientation everywhere
    assert len(np.unique(pred.labels)) >= 3 and np.bincount(pred.labels.ravel()).max() < 0.9 * pred.labels.size
    assert 0 <= pred.edges.min() and pred.edges.max() <= 1 and pred.edges.std() > 0.01


def test_canonical_camera_depth_scales_with_the_focal_length_the_network_saw(lite):
    """depth_focal_px 100: a 200-pixel focal length doubles the depth; an image twice the network's width
    with that focal length is seen at 100 pixels, as the canonical camera; no focal length: canonical."""
    import dataclasses

    canonical = build_model(dataclasses.replace(lite.config, depth_focal_px=100.0), init_backbone=False)
    canonical.load_state_dict(lite.state_dict())
    predictor = Predictor(canonical, PredictorConfig(input_size=(56, 56)))
    plain = Predictor(lite, PredictorConfig(input_size=(56, 56)))
    image = np.random.default_rng(1).integers(0, 255, (56, 56, 3), dtype=np.uint8)
    reference = plain.predict(image).depth
    np.testing.assert_allclose(predictor.predict(image).depth, reference, rtol=1e-5)
    np.testing.assert_allclose(predictor.predict(image, 200.0).depth, 2 * reference, rtol=1e-5)
    np.testing.assert_allclose(plain.predict(image, 200.0).depth, reference, rtol=1e-5)  # a metric network
    big = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)
    np.testing.assert_allclose(predictor.predict(big, 200.0).depth, plain.predict(big).depth, rtol=1e-5)
    assert predictor.needs_focal and not plain.needs_focal
