"""The pooled metrics against cases computed by hand."""

import math

import numpy as np
import pytest
import torch

from m2h_ros.eval.metrics import IGNORE, DepthMeter, EdgeMeter, NormalsMeter, SemsegMeter, delta_m, edge_nms


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


def _ridge(h, w, col, sigma=1.0, peak=0.9):
    x = np.arange(w)
    return np.tile(peak * np.exp(-((x - col) ** 2) / (2 * sigma**2)), (h, 1)).astype(np.float32)


def test_edge_nms_keeps_the_ridge_of_a_blurred_edge():
    nms = edge_nms(torch.from_numpy(_ridge(20, 30, 12)))
    assert set(np.nonzero(nms.numpy().any(0))[0]) == {12}


def test_edge_perfect_shifted_and_missing_predictions():
    gt = np.zeros((40, 60), np.uint8)
    gt[:, 30] = 1
    tol = 0.011 * math.hypot(40, 60)  # 0.79 px: only exact hits count
    perfect, shifted, none = EdgeMeter(), EdgeMeter(), EdgeMeter()
    perfect.update(_ridge(40, 60, 30), gt)
    shifted.update(_ridge(40, 60, 33), gt)
    none.update(np.zeros((40, 60), np.float32), gt)
    assert tol < 1
    assert perfect.compute()["odsF"] == pytest.approx(100.0)
    assert shifted.compute()["odsF"] == pytest.approx(0.0)
    assert none.compute()["odsF"] == 0.0
    lenient = EdgeMeter(max_dist=0.05)  # 3.6 px: the shifted edge is found
    lenient.update(_ridge(40, 60, 33), gt)
    assert lenient.compute()["odsF"] == pytest.approx(100.0)


def test_edge_threshold_trades_precision_for_recall():
    gt = np.zeros((40, 60), np.uint8)
    gt[:, 20] = gt[:, 40] = 1
    pred = _ridge(40, 60, 20, peak=0.9) + _ridge(40, 60, 40, peak=0.3) + _ridge(40, 60, 5, peak=0.6)
    m = EdgeMeter()
    m.update(pred, gt)
    _, p, r = m.curve()
    at = lambda x: round(x * 100) - 1  # noqa: E731
    assert r[at(0.2)] == pytest.approx(1.0) and p[at(0.2)] == pytest.approx(2 / 3, abs=0.02)  # false edge at 5
    assert r[at(0.5)] == pytest.approx(0.5) and p[at(0.5)] == pytest.approx(0.5, abs=0.02)
    assert r[at(0.8)] == pytest.approx(0.5) and p[at(0.8)] == pytest.approx(1.0)
    assert m.compute()["odsF"] == pytest.approx(100 * 2 * (2 / 3) / (1 + 2 / 3), abs=1.0)


def test_edge_ignore_pixels_count_neither_way():
    gt = np.zeros((20, 30), np.uint8)
    gt[:, 10] = 1
    gt[:, 20:] = IGNORE
    pred = _ridge(20, 30, 10) + _ridge(20, 30, 25)  # the second ridge lies in the ignore region
    m = EdgeMeter()
    m.update(pred, gt)
    assert m.compute()["odsF"] == pytest.approx(100.0)


def test_delta_m_hand_computed():
    base = {"semseg": {"mIoU": 50.0}, "depth": {"rmse": 0.5}, "normals": {"mean": 20.0}, "edges": {"odsF": 80.0}}
    ours = {"semseg": {"mIoU": 55.0}, "depth": {"rmse": 0.45}, "normals": {"mean": 22.0}, "edges": {"odsF": 80.0}}
    assert delta_m(ours, base) == pytest.approx((10 + 10 - 10 + 0) / 4)
    assert delta_m(base, base) == 0.0
    with pytest.raises(ValueError, match="at least one task"):
        delta_m({"other": {}}, base)
