"""Metric scale from the floor: depth predicted at the wrong scale comes back to metres from the
camera's known height, the estimate is smoothed and gated, and too little floor holds the last scale."""

import numpy as np
import pytest

from m2h_ros.geometry.cloud import Intrinsics
from m2h_ros.geometry.scale import FloorScale, ScaleConfig
from m2h_ros.labels import SYNTHETIC


@pytest.fixture(scope="module")
def frames():
    from m2h_ros.synth.generate import SynthConfig, render_scene

    _, frames = render_scene(5, SynthConfig(width=160, height=120, frames_per_scene=8))
    return frames


def _ground(frame) -> np.ndarray:
    return np.isin(frame.labels, sorted(SYNTHETIC.ground_labels))


def test_depth_at_the_wrong_scale_comes_back_to_metres(frames):
    f = frames[0]
    height = float(f.pose[2, 3])  # the floor is z = 0 in the synthetic world
    estimator = FloorScale(ScaleConfig(mode="floor", camera_height_m=height))
    K = Intrinsics.from_matrix(f.K, 160, 120)
    estimate = estimator.update(f.depth * 0.6, f.normals, _ground(f), K)  # a network that sees 0.6x too near
    assert estimate.reason == "ok" and estimate.accepted and estimate.confidence > 0.5
    assert estimate.measured == pytest.approx(1 / 0.6, rel=0.02)
    _, ny, _, d = estimate.plane
    assert d == pytest.approx(height, rel=0.02) and ny < -0.5  # the floor below: its normal points up (-y)


def test_the_running_scale_is_smoothed_gated_and_held(frames):
    cfg = ScaleConfig(mode="floor", camera_height_m=float(frames[0].pose[2, 3]), smoothing=0.5, reset_after=3)
    estimator = FloorScale(cfg)
    f = frames[0]
    K = Intrinsics.from_matrix(f.K, 160, 120)
    first = estimator.update(f.depth, f.normals, _ground(f), K)
    assert first.scale == pytest.approx(1.0, rel=0.02)
    wild = estimator.update(f.depth * 0.3, f.normals, _ground(f), K)  # a bad frame: 3.3x
    assert wild.reason == "gated" and not wild.accepted and wild.scale == first.scale
    blind = estimator.update(f.depth, f.normals, np.zeros_like(_ground(f)), K)  # no floor in view
    assert blind.reason == "too_little_floor" and blind.measured is None and blind.scale == first.scale
    for _ in range(3):  # the camera really changed: after reset_after rejections the scale follows
        last = estimator.update(f.depth * 0.3, f.normals, _ground(f), K)
    assert last.accepted and last.scale == pytest.approx(1 / 0.3, rel=0.03)


def test_floor_mode_needs_the_camera_height():
    with pytest.raises(ValueError, match="'camera_height_m' must be > 0 with mode floor"):
        ScaleConfig(mode="floor")
