"""The pooled metrics against cases computed by hand."""

import math

import numpy as np
import pytest
import torch

from m2h_ros.data.nyud import IGNORE
from m2h_ros.errors import ConfigError
from m2h_ros.eval.metrics import DepthMeter, MultiTaskMeter, NormalsMeter, SemsegMeter, delta_m


def test_semseg_hand_computed_with_ignore_and_invalid_predictions():
    gt = torch.tensor([[0, 1, 2, IGNORE, 2]])
    pred = torch.tensor([[0, 2, 2, 1, -1]])  # the ignored pixel's prediction does not count; -1 is wrong
    m = SemsegMeter(3)
    m.update(pred, gt)
    # class 0: TP 1 -> 1; class 1: FN 1 -> 0; class 2: TP 1, FP 1, FN 1 -> 1/3
    np.testing.assert_allclose(m.iou(), [1.0, 0.0, 1 / 3])
    assert m.compute()["mIoU"] == pytest.approx(100 * (1 + 0 + 1 / 3) / 3)
    assert m.compute()["pixel_acc"] == pytest.approx(50.0)
    scored = SemsegMeter(3, scored=np.array([1, 2]))  # the m2h convention leaves out void (0)
    scored.update(pred, gt)
    assert scored.compute()["mIoU"] == pytest.approx(100 * (0 + 1 / 3) / 2)


def test_semseg_empty_class_scores_zero_and_pooling_differs_from_per_image_mean():
    a_pred, a_gt = torch.tensor([0, 0, 0, 1]), torch.tensor([0, 0, 0, 0])
    b_pred, b_gt = torch.tensor([1]), torch.tensor([1])
    pooled = SemsegMeter(3)
    pooled.update(a_pred, a_gt)
    pooled.update(b_pred, b_gt)
    # class 0: 3 / 4; class 1: 1 / 2 (one FP from a); class 2 absent from both: 0
    np.testing.assert_allclose(pooled.iou(), [0.75, 0.5, 0.0])
    per_image = []
    for p, g in ((a_pred, a_gt), (b_pred, b_gt)):
        m = SemsegMeter(3)
        m.update(p, g)
        per_image.append(m.compute()["mIoU"])
    assert pooled.compute()["mIoU"] == pytest.approx(100 * 1.25 / 3)
    assert np.mean(per_image) != pytest.approx(pooled.compute()["mIoU"])


def test_semseg_is_independent_of_batching():
    rng = np.random.default_rng(0)
    pred, gt = rng.integers(0, 5, (6, 8, 8)), rng.integers(0, 5, (6, 8, 8))
    gt[gt == 4] = IGNORE
    whole, parts = SemsegMeter(5), SemsegMeter(5)
    whole.update(pred, gt)
    for i in range(6):
        parts.update(pred[i], gt[i])
    assert torch.equal(whole.confusion, parts.confusion)


def test_depth_hand_computed():
    m = DepthMeter()
    m.update(np.array([2.0, 2.0, 5.0, 0.0]), np.array([1.0, 2.0, 0.0, 4.0]))  # gt 0 invalid; pred 0 -> 1e-9
    r = m.compute()
    errs = np.array([1.0, 0.0, 4.0])
    gts = np.array([1.0, 2.0, 4.0])
    preds = np.array([2.0, 2.0, 1e-9])
    assert r["rmse"] == pytest.approx(math.sqrt((errs**2).mean()))
    assert r["abs_rel"] == pytest.approx((errs / gts).mean())
    assert r["sq_rel"] == pytest.approx((errs**2 / gts).mean())
    assert r["log_rmse"] == pytest.approx(math.sqrt(((np.log(gts) - np.log(preds)) ** 2).mean()))
    assert r["delta1"] == pytest.approx(100 / 3) and r["delta2"] == pytest.approx(100 / 3)


def test_depth_is_pooled_not_averaged_per_image():
    m = DepthMeter()
    m.update(np.array([3.0]), np.array([1.0]))  # one pixel, error 2
    m.update(np.ones(4), np.ones(4))  # four exact pixels
    assert m.compute()["rmse"] == pytest.approx(math.sqrt(4 / 5))  # per-image mean would be 1.0


def test_depth_max_depth_masks_far_pixels():
    m = DepthMeter(max_depth=10.0)
    m.update(np.array([1.0, 0.0]), np.array([1.0, 50.0]))
    assert m.compute()["rmse"] == 0.0 and m.sums["n"] == 1


def _normals(*vectors):
    return torch.tensor(vectors, dtype=torch.float64).T.reshape(3, 1, len(vectors))


def test_normals_angles_hand_computed():
    gt = _normals((0, 0, 1), (0, 0, 1), (0, 0, 1), (1, 0, 0), (0, 0, 0))
    pred = _normals((1, 0, 0), (0, 0, 5), (0, 0, -1), (1, 1, 0), (1, 0, 0))  # last: invalid gt
    m = NormalsMeter()
    m.update(pred, gt)
    r = m.compute()
    angles = np.array([90.0, 0.0, 180.0, 45.0])
    assert m.sums["n"] == 4
    assert r["mean"] == pytest.approx(angles.mean())
    assert r["rmse"] == pytest.approx(math.sqrt((angles**2).mean()))
    assert 45 <= r["median"] <= 90.01  # any value between the middle two
    assert r["within_11.25"] == pytest.approx(25.0) and r["within_30"] == pytest.approx(25.0)


def test_normals_median_of_odd_count_is_exact_to_a_hundredth_of_a_degree():
    rng = np.random.default_rng(1)
    angles = np.deg2rad(rng.uniform(0, 170, 101))
    pred = np.stack([np.sin(angles), np.zeros_like(angles), np.cos(angles)])[:, None]
    gt = np.zeros_like(pred)
    gt[2] = 1
    m = NormalsMeter()
    m.update(pred, gt)
    assert m.compute()["median"] == pytest.approx(np.rad2deg(np.median(angles)), abs=0.01)


def test_delta_m_hand_computed():
    base = {"semseg": {"mIoU": 50.0}, "depth": {"rmse": 0.5}, "normals": {"mean": 20.0}, "edges": {"odsF": 80.0}}
    ours = {"semseg": {"mIoU": 55.0}, "depth": {"rmse": 0.45}, "normals": {"mean": 22.0}, "edges": {"odsF": 80.0}}
    assert delta_m(ours, base) == pytest.approx((10 + 10 - 10 + 0) / 4)
    assert delta_m(base, base) == 0.0
    with pytest.raises(ValueError, match="at least one task"):
        delta_m({"other": {}}, base)


def test_delta_m_refuses_edges_scored_by_different_protocols():
    base = {"edges": {"odsF": 80.0}}  # saved before the protocol was recorded: the fast one
    with pytest.raises(ValueError, match="different protocols"):
        delta_m({"edges": {"odsF": 70.0, "protocol": "seism"}}, base)
    assert delta_m({"edges": {"odsF": 88.0, "protocol": "fast"}}, base) == pytest.approx(10.0)


def test_unknown_edge_protocol_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown edge protocol 'bsds'; known: seism, fast"):
        MultiTaskMeter(3, edge_protocol="bsds")
