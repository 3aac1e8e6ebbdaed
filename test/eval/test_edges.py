"""Edge odsF: SEISM's protocol piece by piece and on cases worked by hand, and the fast protocol."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from m2h_ros.data.nyud import IGNORE
from m2h_ros.eval.edges import (
    SEISM_THRESHOLDS,
    FastEdgeMeter,
    PixelMatcher,
    SeismEdgeMeter,
    edge_nms,
    seg2bmap,
    seism_nms,
)


def _ridge(h, w, col, sigma=1.0, peak=0.9):
    x = np.arange(w)
    return np.tile(peak * np.exp(-((x - col) ** 2) / (2 * sigma**2)), (h, 1)).astype(np.float32)


def test_fast_nms_keeps_the_ridge_of_a_blurred_edge():
    nms = edge_nms(torch.from_numpy(_ridge(20, 30, 12)))
    assert set(np.nonzero(nms.numpy().any(0))[0]) == {12}


def test_fast_perfect_shifted_and_missing_predictions():
    gt = np.zeros((40, 60), np.uint8)
    gt[:, 30] = 1
    tol = 0.011 * math.hypot(40, 60)  # 0.79 px: only exact hits count
    perfect, shifted, none = FastEdgeMeter(), FastEdgeMeter(), FastEdgeMeter()
    perfect.update(_ridge(40, 60, 30), gt)
    shifted.update(_ridge(40, 60, 33), gt)
    none.update(np.zeros((40, 60), np.float32), gt)
    assert tol < 1
    assert perfect.compute()["odsF"] == pytest.approx(100.0)
    assert shifted.compute()["odsF"] == pytest.approx(0.0)
    assert none.compute()["odsF"] == 0.0
    lenient = FastEdgeMeter(max_dist=0.05)  # 3.6 px: the shifted edge is found
    lenient.update(_ridge(40, 60, 33), gt)
    assert lenient.compute()["odsF"] == pytest.approx(100.0)


def test_fast_threshold_trades_precision_for_recall():
    gt = np.zeros((40, 60), np.uint8)
    gt[:, 20] = gt[:, 40] = 1
    pred = _ridge(40, 60, 20, peak=0.9) + _ridge(40, 60, 40, peak=0.3) + _ridge(40, 60, 5, peak=0.6)
    m = FastEdgeMeter()
    m.update(pred, gt)
    _, p, r = m.curve()
    at = lambda x: round(x * 100) - 1  # noqa: E731
    assert r[at(0.2)] == pytest.approx(1.0) and p[at(0.2)] == pytest.approx(2 / 3, abs=0.02)  # false edge at 5
    assert r[at(0.5)] == pytest.approx(0.5) and p[at(0.5)] == pytest.approx(0.5, abs=0.02)
    assert r[at(0.8)] == pytest.approx(0.5) and p[at(0.8)] == pytest.approx(1.0)
    assert m.compute()["odsF"] == pytest.approx(100 * 2 * (2 / 3) / (1 + 2 / 3), abs=1.0)


def test_fast_ignore_pixels_count_neither_way():
    gt = np.zeros((20, 30), np.uint8)
    gt[:, 10] = 1
    gt[:, 20:] = IGNORE
    pred = _ridge(20, 30, 10) + _ridge(20, 30, 25)  # the second ridge lies in the ignore region
    m = FastEdgeMeter()
    m.update(pred, gt)
    assert m.compute()["odsF"] == pytest.approx(100.0)


# -- SEISM ------------------------------------------------------------------------------------------
H, W = 240, 320  # tolerance 0.011 × 400 = 4.4 px


def _line_gt(col=160):
    gt = np.zeros((H, W), np.uint8)
    gt[:, col] = 1
    return gt


def test_seism_thresholds_are_those_of_its_hed_parameter_file():
    assert len(SEISM_THRESHOLDS) == 101
    assert SEISM_THRESHOLDS[0] == 0.001 and SEISM_THRESHOLDS[-1] == 0.999
    assert np.allclose(SEISM_THRESHOLDS[1:-1], np.arange(1, 100) / 100)


def test_seg2bmap_marks_a_line_and_its_west_neighbour_as_seism_does():
    b = seg2bmap(_line_gt(160).astype(np.uint32))
    assert set(np.nonzero(b.any(0))[0]) == {159, 160}
    assert not b[-1, -1]


def test_seism_nms_keeps_the_ridge_and_fades_the_image_border():
    nms = seism_nms(_ridge(H, W, 160))
    assert set(np.nonzero(nms.any(0))[0]) == {160}
    column = nms[:, 160]
    assert column[0] == 0 and column[2] == pytest.approx(0.9 * 2 / 5, rel=1e-5) and column[H // 2] == pytest.approx(0.9)


def test_pixel_matcher_finds_the_largest_one_to_one_matching():
    rng = np.random.default_rng(3)
    radius = 2.5
    for _ in range(20):
        pred, truth = rng.random((30, 40)) < 0.08, rng.random((30, 40)) < 0.08
        p, g = np.argwhere(pred), np.argwhere(truth)
        d = np.linalg.norm(p[:, None] - g[None], axis=-1)
        cost = np.where(d <= radius, d, 1e6)  # an assignment pays dearly for each pair out of reach
        rows, cols = linear_sum_assignment(cost)
        assert PixelMatcher(pred, truth, radius).count(pred) == int((cost[rows, cols] < 1e6).sum())


def _largest_matching(pred, truth, radius):
    p, g = np.argwhere(pred), np.argwhere(truth)
    if not len(p) or not len(g):
        return 0
    cost = np.where(np.linalg.norm(p[:, None] - g[None], axis=-1) <= radius, 0.0, 1.0)
    rows, cols = linear_sum_assignment(cost)
    return int((cost[rows, cols] == 0).sum())


def test_pixel_matcher_stays_maximum_as_thresholds_fall_and_pixels_come_and_go():
    rng = np.random.default_rng(4)
    for _ in range(10):
        prob, truth = rng.random((30, 40)), rng.random((30, 40)) < 0.1
        matcher = PixelMatcher(prob > 0, truth, 1.5)
        for t in np.linspace(0.95, 0.05, 10):
            pred = (prob > t) & (rng.random((30, 40)) < 0.9)  # not nested: as thinning drops pixels
            assert matcher.count(pred) == _largest_matching(pred, truth, 1.5)


def test_seism_perfect_and_shifted_edges_score_near_100_and_no_edges_score_0():
    scores = {}
    # SEISM thins seg2bmap's two-pixel band to its west column: the truth lies at 159.
    for name, pred in (("perfect", _ridge(H, W, 159)), ("shifted 3 px", _ridge(H, W, 162)),
                       ("shifted 6 px", _ridge(H, W, 165)), ("none", np.zeros((H, W), np.float32))):  # fmt: skip
        m = SeismEdgeMeter()
        m.update(pred, _line_gt())
        scores[name] = m.compute()
    # The border fade zeroes the prediction's first row: the true pixel there is missed.
    assert scores["perfect"]["precision"] == pytest.approx(100.0)
    assert 98.0 < scores["perfect"]["recall"] < 100.0
    assert scores["shifted 3 px"]["odsF"] == pytest.approx(scores["perfect"]["odsF"])
    assert scores["shifted 6 px"]["odsF"] == 0.0  # beyond the 4.4 px tolerance
    assert scores["none"]["odsF"] == 0.0
    assert scores["none"]["precision"] == 100.0  # SEISM's convention when nothing is predicted


def test_seism_scores_a_double_edge_two_thirds_where_the_fast_protocol_reads_100():
    double = np.maximum(_ridge(H, W, 157, sigma=0.7), _ridge(H, W, 161, sigma=0.7))  # 2 px either side of 159
    seism, fast = SeismEdgeMeter(), FastEdgeMeter()
    seism.update(double, _line_gt())
    fast.update(double, _line_gt())
    s = seism.compute()
    # one to one: each true pixel takes one of the two responses, the other is a false positive
    assert s["precision"] == pytest.approx(50.0, abs=2.0) and s["recall"] > 95
    assert s["odsF"] == pytest.approx(100 * 2 / 3, abs=2.0)
    assert fast.compute()["odsF"] == pytest.approx(100.0)


def test_seism_reads_the_probability_as_an_8_bit_png_and_thresholds_strictly():
    at_half = list(SEISM_THRESHOLDS).index(0.5)
    recalls = {}
    for p in (0.5019, 0.5039):  # ⌊255 p⌋ / 255 = 127 / 255 < 0.5, then 128 / 255 > 0.5
        m = SeismEdgeMeter()
        m.update(_ridge(H, W, 159, peak=p), _line_gt())
        recalls[p] = m.curve()[2][at_half]
    assert recalls[0.5019] == 0.0 and recalls[0.5039] > 0.9  # less the rows the border fade takes below 0.5


def test_seism_ignore_pixels_count_neither_way():
    gt = _line_gt(80)
    gt[:, 200:] = IGNORE
    pred = _ridge(H, W, 79) + _ridge(H, W, 240)  # the second ridge lies in the ignore region
    m = SeismEdgeMeter()
    m.update(pred, gt)
    assert m.compute()["precision"] == pytest.approx(100.0)
