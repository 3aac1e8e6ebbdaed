"""The bag scorer without ROS: frames are scored once prediction and truth are both in, in any order,
against the remapped ground truth; timing figures from send and answer times."""

import numpy as np
import pytest

from m2h_ros import labels
from m2h_ros.eval.bag_scoring import FrameScorer, timing


def _frame(seed: int, h: int = 12, w: int = 16) -> dict:
    rng = np.random.default_rng(seed)
    normals = rng.normal(size=(h, w, 3)).astype(np.float32)
    return {"depth": rng.uniform(0.5, 5.0, (h, w)).astype(np.float32),
            "semantic": rng.integers(1, len(labels.SYNTHETIC), (h, w)).astype(np.int32),
            "normals": normals / np.linalg.norm(normals, axis=-1, keepdims=True),
            "edges": (rng.random((h, w)) > 0.8).astype(np.float32)}  # fmt: skip


def _truth_of(pred: dict) -> dict:
    return pred | {"edges": (pred["edges"] * 255).astype(np.uint8)}


def test_a_perfect_prediction_scores_perfectly_once_its_truth_arrives():
    scorer = FrameScorer("synthetic")
    pred = _frame(0)
    assert not scorer.ready(1.0)  # no truth yet: the prediction must wait
    for output, array in _truth_of(pred).items():
        scorer.add_truth(1.0, output, array)
    assert scorer.ready(1.0)
    scorer.score(1.0, pred)
    m = scorer.metrics()
    assert scorer.evaluated == 1 and scorer.truth == {}
    assert m["semseg"]["mIoU"] == pytest.approx(100.0)
    assert m["depth"]["rmse"] == pytest.approx(0.0, abs=1e-6) and m["depth"]["delta1"] == pytest.approx(100.0)
    assert m["normals"]["mean"] == pytest.approx(0.0, abs=0.1)


def test_a_wrong_prediction_scores_worse_and_the_contact_sheet_keeps_only_chosen_frames():
    scorer = FrameScorer("synthetic")
    for t in (1.0, 2.0):
        for output, array in _truth_of(_frame(0)).items():
            scorer.add_truth(t, output, array)
    scorer.keep_rgb(2.0, np.zeros((12, 16, 3), np.uint8))
    wrong = _frame(0) | {"depth": _frame(0)["depth"] * 2}
    scorer.score(1.0, wrong)
    scorer.score(2.0, wrong)
    m = scorer.metrics()
    assert m["depth"]["abs_rel"] == pytest.approx(1.0) and m["depth"]["delta1"] == 0.0
    assert len(scorer.rows) == 1 and scorer.rgb == {}


def test_a_bag_without_truth_takes_every_prediction_and_scores_none():
    scorer = FrameScorer("synthetic", expects_truth=False)
    assert scorer.ready(3.0)
    scorer.score(3.0, _frame(1))
    assert scorer.evaluated == 0 and scorer.metrics() is None


def test_timing_counts_answered_frames_and_their_latency():
    sent = {0.0: 10.0, 0.1: 10.1, 0.2: 10.2, 0.3: 10.3}
    received = {0.0: 10.05, 0.1: 10.2, 0.3: 10.5}  # 0.2 never answered
    t = timing(sent, received)
    assert (t["frames_sent"], t["frames_answered"]) == (4, 3) and t["drop_rate"] == pytest.approx(0.25)
    assert t["latency_p50_ms"] == pytest.approx(100.0) and t["latency_max_ms"] == pytest.approx(200.0)
    assert t["throughput_hz"] == pytest.approx(3 / 0.5)


def test_floor_scaled_depth_is_scored_before_and_after_the_scale_and_the_scale_against_the_best():
    scorer = FrameScorer("synthetic")
    truth = _frame(0)
    for output, array in _truth_of(truth).items():
        scorer.add_truth(1.0, output, array)
    # the network saw the scene at half its size; the node's floor scale of 1.8 brings it most of the way
    network_depth = truth["depth"] / 2
    scorer.score(1.0, truth | {"depth": network_depth * 1.8}, scale=1.8)
    m = scorer.metrics()
    assert m["depth_before_scale"]["abs_rel"] == pytest.approx(0.5)
    assert m["depth"]["abs_rel"] == pytest.approx(0.1)
    assert m["floor_scale"]["frames"] == 1 and m["floor_scale"]["error_median"] == pytest.approx(0.1)
    unscaled = FrameScorer("synthetic")
    for output, array in _truth_of(truth).items():
        unscaled.add_truth(1.0, output, array)
    unscaled.score(1.0, truth)
    assert "floor_scale" not in unscaled.metrics()  # no scale, no scale figures
