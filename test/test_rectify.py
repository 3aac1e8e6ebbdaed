"""Rectification of distorted cameras: an image seen through a distortion model comes back to the
pinhole image, and models that cannot be rectified are refused with the fix."""

import cv2
import numpy as np
import pytest

from m2h_ros.errors import DataError
from m2h_ros.geometry.rectify import Rectifier, is_distorted

W, H = 320, 240
K = np.array([[200.0, 0, 160], [0, 200.0, 120], [0, 0, 1]])


def _pinhole_image() -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return (127 + 100 * np.sin(2 * np.pi * xx / 40) * np.sin(2 * np.pi * yy / 40)).astype(np.uint8)


def _distort(image: np.ndarray, undistort_points) -> np.ndarray:
    """What the distorted camera sees: each of its pixels samples the pinhole image where its ray lands."""
    u, v = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    pts = undistort_points(np.stack([u.ravel(), v.ravel()], 1)[:, None, :]).reshape(H, W, 2).astype(np.float32)
    return cv2.remap(image, pts[..., 0], pts[..., 1], cv2.INTER_LINEAR)


@pytest.mark.parametrize(
    ("model", "d", "undistort_points"),
    [
        ("plumb_bob", [-0.25, 0.08, 0.001, -0.001, 0.0], lambda p, d: cv2.undistortPoints(p, K, np.array(d), P=K)),
        ("equidistant", [0.05, -0.02, 0.01, -0.002], lambda p, d: cv2.fisheye.undistortPoints(p, K, np.array(d), P=K)),
    ],
)
def test_a_distorted_image_comes_back_to_the_pinhole_image(model, d, undistort_points):
    pinhole = _pinhole_image()
    distorted = _distort(pinhole, lambda p: undistort_points(p, d))
    rectifier = Rectifier(K.ravel(), d, model, (W, H))
    inner = (slice(30, H - 30), slice(30, W - 30))
    before = np.abs(distorted[inner].astype(int) - pinhole[inner]).mean()
    after = np.abs(rectifier(distorted)[inner].astype(int) - pinhole[inner]).mean()
    assert before > 5 and after < 1.0, (before, after)
    assert rectifier.intrinsics.fx == 200.0 and (rectifier.intrinsics.width, rectifier.intrinsics.height) == (W, H)


def test_the_rectified_camera_is_p_when_given():
    p = [150.0, 0, 155, 0, 0, 150.0, 118, 0, 0, 0, 1, 0]
    rectifier = Rectifier(K.ravel(), [-0.1, 0, 0, 0, 0], "plumb_bob", (W, H), p)
    assert (rectifier.intrinsics.fx, rectifier.intrinsics.cx, rectifier.intrinsics.cy) == (150.0, 155.0, 118.0)


def test_an_unknown_model_is_refused_with_the_fix():
    assert is_distorted([0, 0.1, 0]) and not is_distorted([0.0] * 5) and not is_distorted([])
    with pytest.raises(DataError, match=r"distortion model 'kannala' cannot be rectified.*image_rect"):
        Rectifier(K.ravel(), [0.1], "kannala", (W, H))
