"""Undistortion of camera images, so that the network, the outputs and the cloud share one pinhole
camera. The maps are computed once per camera (OpenCV's ``initUndistortRectifyMap``, as ROS's
image_proc does) and each image is remapped bilinearly.

Distortion models follow sensor_msgs/CameraInfo: ``plumb_bob`` (k1 k2 t1 t2 k3) and
``rational_polynomial`` (8 coefficients) through OpenCV's standard model, ``equidistant`` (k1..k4)
through its fisheye model. The rectified camera is CameraInfo's ``P`` (its left 3×3) when set, as
image_proc uses it, else ``K``.
"""

from __future__ import annotations

import cv2
import numpy as np

from m2h_ros.errors import DataError
from m2h_ros.geometry.cloud import Intrinsics

MODELS = ("plumb_bob", "rational_polynomial", "equidistant")


def is_distorted(d) -> bool:
    """Whether distortion coefficients ``d`` (CameraInfo.d) do anything."""
    return bool(np.any(np.asarray(d, dtype=np.float64) != 0))


class Rectifier:
    """Undistorts (H, W[, C]) images of one camera into the pinhole camera :attr:`intrinsics`.

    Args:
        k: the 3×3 camera matrix (or its 9 values, as CameraInfo.k).
        d: the distortion coefficients of ``model``.
        model: one of :data:`MODELS`.
        size: (width, height) of the images.
        p: CameraInfo.p (3×4 or its 12 values); its left 3×3 is the rectified camera when non-zero.
    """

    def __init__(self, k, d, model: str, size: tuple[int, int], p=None):
        if model not in MODELS:
            raise DataError(f"distortion model {model!r} cannot be rectified here (known: {', '.join(MODELS)}); "
                            "feed a rectified image (image_proc's image_rect) with zero distortion")  # fmt: skip
        K = np.asarray(k, dtype=np.float64).reshape(3, 3)
        D = np.asarray(d, dtype=np.float64).ravel()
        P = np.asarray(p, dtype=np.float64).reshape(3, 4)[:, :3] if p is not None and np.any(p) else K
        width, height = size
        if model == "equidistant":
            if len(D) < 4:
                raise DataError(f"the equidistant model needs 4 coefficients, got {len(D)}")
            self.maps = cv2.fisheye.initUndistortRectifyMap(K, D[:4], np.eye(3), P, (width, height), cv2.CV_16SC2)
        else:
            self.maps = cv2.initUndistortRectifyMap(K, D, np.eye(3), P, (width, height), cv2.CV_16SC2)
        self.intrinsics = Intrinsics.from_matrix(P, width, height)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return cv2.remap(image, *self.maps, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
