"""Back-projection into semantic clouds."""

import numpy as np
import pytest

from m2h_ros.geometry.cloud import CloudOptions, Intrinsics, backproject, pack_rgb, voxel_downsample


def test_points_lie_on_their_pixel_rays():
    K = Intrinsics(100.0, 120.0, 3.5, 2.0, 8, 5)
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 4.0, (5, 8)).astype(np.float32)
    rgb = rng.integers(0, 255, (5, 8, 3), dtype=np.uint8)
    labels = rng.integers(-1, 10, (5, 8)).astype(np.int16)
    cloud = backproject(depth, rgb, labels, K, CloudOptions(min_range_m=0.0))
    assert len(cloud) == 40
    u = cloud["x"] / cloud["z"] * K.fx + K.cx
    v = cloud["y"] / cloud["z"] * K.fy + K.cy
    ui, vi = np.round(u).astype(int), np.round(v).astype(int)
    np.testing.assert_allclose(u, ui, atol=1e-4)
    np.testing.assert_allclose(v, vi, atol=1e-4)
    np.testing.assert_array_equal(cloud["z"], depth[vi, ui])
    np.testing.assert_array_equal(cloud["label"], labels[vi, ui])
    np.testing.assert_array_equal(cloud["rgb"], pack_rgb(rgb[vi, ui]))


def test_stride_range_and_invalid_depth():
    K = Intrinsics(10.0, 10.0, 2.0, 2.0, 6, 4)
    depth = np.full((4, 6), 2.0, np.float32)
    depth[0, 0], depth[0, 2], depth[2, 2] = np.nan, 50.0, 0.05
    rgb, labels = np.zeros((4, 6, 3), np.uint8), np.zeros((4, 6), np.int16)
    cloud = backproject(depth, rgb, labels, K, CloudOptions(stride=2, min_range_m=0.1, max_range_m=10.0))
    assert len(cloud) == 6 - 3  # (0,0) NaN, (0,2) too far, (2,2) too near
    with pytest.raises(ValueError, match="depth is 6×4 but the intrinsics are for 3×2"):
        backproject(depth, rgb, labels, Intrinsics(10.0, 10.0, 1.0, 1.0, 3, 2))


def test_pack_rgb_is_0x00rrggbb():
    assert pack_rgb(np.array([[1, 2, 3]], np.uint8))[0] == 0x010203


def test_voxel_downsample_keeps_one_point_per_voxel():
    from m2h_ros.geometry.cloud import CLOUD_DTYPE

    cloud = np.zeros(4, CLOUD_DTYPE)
    cloud["x"] = [0.01, 0.02, 0.3, 0.31]
    cloud["label"] = [1, 2, 3, 4]
    out = voxel_downsample(cloud, 0.1)
    assert list(out["label"]) == [1, 3]


def test_intrinsics_scaling_keeps_pixel_centres():
    K = Intrinsics(500.0, 500.0, 319.5, 239.5, 640, 480)
    half = K.scaled(320, 240)
    assert (half.fx, half.cx, half.cy) == (250.0, 159.5, 119.5)
    with pytest.raises(ValueError, match="image size must be positive"):
        Intrinsics(1.0, 1.0, 0.0, 0.0, 0, 4)
