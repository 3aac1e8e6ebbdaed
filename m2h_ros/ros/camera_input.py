"""The perception node's camera: camera_info paired with each image by stamp, and distorted images
rectified (maps cached per camera) so that every output is of one pinhole camera."""

from __future__ import annotations

import collections
import threading
import time

import numpy as np
from sensor_msgs.msg import CameraInfo

from m2h_ros.errors import DataError
from m2h_ros.geometry.cloud import Intrinsics
from m2h_ros.geometry.rectify import Rectifier, is_distorted
from m2h_ros.ros import conversions as conv


class CameraError(DataError):
    """No usable camera model for a frame; ``reason`` is the diagnostics counter it is counted under."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class CameraInput:
    """Recent camera_info messages, and the pinhole camera of each image.

    Args:
        tolerance_s: the largest stamp difference for pairing a camera_info with an image.
        rectify: undistort images whose camera_info has distortion (else refuse them).
        wait_s: the longest wait for the camera_info of an image that arrived before it. A camera
            publishes both at once, but their callbacks run in either order; until a camera_info comes,
            only the first image waits.
    """

    def __init__(self, tolerance_s: float, rectify: bool, wait_s: float = 0.0, history: int = 60):
        self.tolerance_s, self.rectify, self.wait_s = tolerance_s, rectify, wait_s
        self.infos: collections.deque = collections.deque(maxlen=history)
        self._arrived = threading.Condition()
        self._first = True  # no image has waited yet
        self._rectifier: Rectifier | None = None
        self._key: tuple | None = None

    def add(self, msg: CameraInfo) -> None:
        with self._arrived:
            self.infos.append(msg)
            self._arrived.notify_all()

    def _wait_for(self, stamp: float) -> None:
        """Until a camera_info as late as ``stamp`` (within the tolerance) is in, or ``wait_s`` passed."""
        deadline = time.monotonic() + self.wait_s
        with self._arrived:
            first, self._first = self._first, False

            def missing() -> bool:
                if not self.infos:
                    return first
                return conv.stamp_seconds(self.infos[-1].header) < stamp - self.tolerance_s

            while missing():
                if not self._arrived.wait(deadline - time.monotonic()):
                    return

    def pair(self, stamp: float, width: int, height: int) -> CameraInfo:
        """The camera_info of the image at ``stamp``; CameraError says why there is none."""
        if self.wait_s > 0:
            self._wait_for(stamp)
        infos = list(self.infos)
        if not infos:
            raise CameraError("no camera_info received: publishing images only, no points or camera_info",
                              "no_cloud_no_camera_info")  # fmt: skip
        gap, best = min(((abs(conv.stamp_seconds(m.header) - stamp), m) for m in infos), key=lambda pair: pair[0])
        if gap > self.tolerance_s:
            raise CameraError(f"no camera_info within {self.tolerance_s} s of the image stamp (nearest {gap:.3f} s): "
                              "no points for this frame", "no_cloud_unpaired_camera_info")  # fmt: skip
        if (best.width, best.height) != (width, height):
            raise CameraError(f"camera_info is {best.width}×{best.height} but the image is {width}×{height}: "
                              "no points", "rejected_camera_info_size")  # fmt: skip
        return best

    def pinhole(self, info: CameraInfo, rgb: np.ndarray) -> tuple[np.ndarray, Intrinsics]:
        """The image as a pinhole camera sees it, and that camera: rectified when ``info`` has distortion.
        CameraError when the intrinsics are invalid or a distorted image cannot or may not be rectified."""
        try:
            K = conv.intrinsics_from_camera_info(info)
        except DataError as e:
            raise CameraError(f"camera_info rejected: {e}: no points", "rejected_camera_info_values") from None
        if not is_distorted(info.d):
            return rgb, K
        if not self.rectify:
            raise CameraError(f"the camera_info has {info.distortion_model} distortion and rectify is off: set "
                              "rectify:=true, or feed a rectified image (image_rect)", "rejected_distorted")  # fmt: skip
        try:
            rectifier = self._rectifier_for(info)
        except DataError as e:
            raise CameraError(str(e), "rejected_distortion_model") from None
        return rectifier(rgb), rectifier.intrinsics

    def _rectifier_for(self, info: CameraInfo) -> Rectifier:
        """The cached rectifier of this camera; a new one when its calibration changes."""
        key = (tuple(info.k), tuple(info.d), info.distortion_model, (info.width, info.height), tuple(info.p))
        if self._rectifier is None or self._key != key:
            self._rectifier, self._key = Rectifier(info.k, info.d, info.distortion_model,
                                                   (info.width, info.height), info.p), key  # fmt: skip
        return self._rectifier
