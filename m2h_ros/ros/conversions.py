"""Message <-> numpy conversions: images (cv_bridge semantics), CameraInfo, PointCloud2, label spaces.

The image codec replaces cv_bridge (whose PyPI build is broken with current numpy/OpenCV):
``image_to_array`` is ``imgmsg_to_cv2(msg, "passthrough")`` — channel order as encoded, (H, W) for
one channel, row padding (``step``) and big-endian data handled — and ``array_to_image`` is
``cv2_to_imgmsg``. Every malformed message raises :class:`ImageError` naming the problem.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import ColorRGBA, Header

from m2h_ros.errors import DataError, ImageError
from m2h_ros.geometry.cloud import CLOUD_DTYPE, Intrinsics
from m2h_ros.labels import LabelSpace

# encoding -> (dtype, channels), as cv_bridge / sensor_msgs/image_encodings define them
ENCODINGS: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3), "bgr8": ("u1", 3), "rgba8": ("u1", 4), "bgra8": ("u1", 4), "mono8": ("u1", 1),
    "rgb16": ("u2", 3), "bgr16": ("u2", 3), "rgba16": ("u2", 4), "bgra16": ("u2", 4), "mono16": ("u2", 1),
    "8UC1": ("u1", 1), "8UC3": ("u1", 3), "8UC4": ("u1", 4), "8SC1": ("i1", 1),
    "16UC1": ("u2", 1), "16SC1": ("i2", 1), "32SC1": ("i4", 1),
    "32FC1": ("f4", 1), "32FC3": ("f4", 3), "64FC1": ("f8", 1),
}  # fmt: skip
# Colour encodings the perception node accepts, and how each becomes RGB.
COLOR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")


def image_to_array(msg: Image) -> np.ndarray:
    """Decode an Image to (H, W) or (H, W, C) in its own encoding. A view into the message data
    where the layout allows; copy it before keeping it beyond the message's lifetime."""
    if msg.encoding not in ENCODINGS:
        raise ImageError(f"unsupported encoding {msg.encoding!r}; supported: {', '.join(ENCODINGS)}", "encoding")
    kind, channels = ENCODINGS[msg.encoding]
    dtype = np.dtype(kind).newbyteorder(">" if msg.is_bigendian else "<")
    h, w = msg.height, msg.width
    if h == 0 or w == 0:
        raise ImageError(f"empty image ({w}×{h})", "empty")
    row_bytes = w * channels * dtype.itemsize
    if msg.step < row_bytes:
        raise ImageError(f"step {msg.step} is smaller than width × bytes per pixel = {row_bytes} ({msg.encoding})")
    if len(msg.data) < msg.step * h:
        raise ImageError(f"data holds {len(msg.data)} bytes but step × height = {msg.step * h}")
    buf = np.frombuffer(memoryview(msg.data), dtype=np.uint8, count=msg.step * h).reshape(h, msg.step)
    arr = buf[:, :row_bytes].view(dtype).reshape(h, w, channels)
    if dtype.byteorder == ">":
        arr = arr.astype(dtype.newbyteorder("="))
    return arr[..., 0] if channels == 1 else arr


def image_to_rgb8(msg: Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an rgb8, bgr8, rgba8, bgra8 or mono8 image."""
    if msg.encoding not in COLOR_ENCODINGS:
        raise ImageError(f"unsupported input encoding {msg.encoding!r}; send one of {', '.join(COLOR_ENCODINGS)}",
                         "encoding")  # fmt: skip
    arr = image_to_array(msg)
    if msg.encoding == "mono8":
        return np.repeat(arr[..., None], 3, axis=2)
    if msg.encoding.startswith("bgr"):
        arr = arr[..., 2::-1]
    return np.ascontiguousarray(arr[..., :3])


def array_to_image(arr: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    """Encode an array as an Image (little-endian, no row padding)."""
    if encoding not in ENCODINGS:
        raise ImageError(f"unsupported encoding {encoding!r}; supported: {', '.join(ENCODINGS)}", "encoding")
    kind, channels = ENCODINGS[encoding]
    got = arr.shape[2] if arr.ndim == 3 else 1
    if arr.ndim not in (2, 3) or got != channels:
        raise ImageError(f"{encoding} needs {channels} channel(s), got an array of shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.dtype(kind).newbyteorder("<"))
    msg = Image(height=arr.shape[0], width=arr.shape[1], encoding=encoding, is_bigendian=0, step=arr.strides[0])
    if header is not None:
        msg.header = header
    msg.data = arr.tobytes()
    return msg


def header_at(seconds: float, frame_id: str = "") -> Header:
    """A Header stamped ``seconds`` after the epoch."""
    from builtin_interfaces.msg import Time

    sec = int(seconds)
    return Header(stamp=Time(sec=sec, nanosec=min(round((seconds - sec) * 1e9), 999_999_999)), frame_id=frame_id)


def header_now(node) -> Header:
    """A Header stamped with ``node``'s clock (ROS time: the simulated time under use_sim_time)."""
    return Header(stamp=node.get_clock().now().to_msg())


def stamp_seconds(header: Header) -> float:
    """The header's stamp in seconds (the inverse of :func:`header_at`)."""
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def intrinsics_from_camera_info(msg: CameraInfo) -> Intrinsics:
    """Intrinsics of a CameraInfo; ValueError for zero sizes, non-finite or non-positive focal lengths."""
    return Intrinsics.from_matrix(msg.k, msg.width, msg.height)


def camera_info_from_intrinsics(K: Intrinsics, header: Header) -> CameraInfo:
    """A CameraInfo for the pinhole camera ``K`` (rectified: plumb_bob with zero distortion, P = [K | 0])."""
    msg = CameraInfo(header=header, width=K.width, height=K.height, distortion_model="plumb_bob")
    msg.d = [0.0] * 5
    msg.k = [K.fx, 0.0, K.cx, 0.0, K.fy, K.cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [K.fx, 0.0, K.cx, 0.0, 0.0, K.fy, K.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


_FIELD_TYPES = {"<f4": PointField.FLOAT32, "<u4": PointField.UINT32, "<i4": PointField.INT32}


def cloud_to_pointcloud2(cloud: np.ndarray, header: Header) -> PointCloud2:
    """A structured array of :data:`CLOUD_DTYPE` -> unordered PointCloud2 (height 1)."""
    assert cloud.dtype == CLOUD_DTYPE
    fields = [
        PointField(name=name, offset=CLOUD_DTYPE.fields[name][1], datatype=_FIELD_TYPES[CLOUD_DTYPE.fields[name][0].str],
                   count=1)
        for name in CLOUD_DTYPE.names
    ]  # fmt: skip
    return PointCloud2(header=header, height=1, width=cloud.shape[0], fields=fields, is_bigendian=False,
                       point_step=CLOUD_DTYPE.itemsize, row_step=CLOUD_DTYPE.itemsize * cloud.shape[0],
                       data=cloud.tobytes(), is_dense=True)  # fmt: skip


def pointcloud2_to_cloud(msg: PointCloud2) -> np.ndarray:
    """Inverse of :func:`cloud_to_pointcloud2` for clouds with the same field layout."""
    names = [f.name for f in msg.fields]
    if names != list(CLOUD_DTYPE.names) or msg.point_step != CLOUD_DTYPE.itemsize:
        raise DataError(f"expected fields {list(CLOUD_DTYPE.names)} with point_step {CLOUD_DTYPE.itemsize}, "
                         f"got {names} with point_step {msg.point_step}")  # fmt: skip
    return np.frombuffer(memoryview(msg.data), dtype=CLOUD_DTYPE, count=msg.width * msg.height).copy()


def label_space_to_msg(space: LabelSpace, header: Header):
    """The package's LabelSpace message for ``space``."""
    from m2h_ros.msg import LabelSpace as LabelSpaceMsg

    return LabelSpaceMsg(
        header=header,
        name=space.name,
        ids=list(range(len(space))),
        names=list(space.names),
        colors=[ColorRGBA(r=r / 255, g=g / 255, b=b / 255, a=1.0) for r, g, b in space.colors],
        object_labels=sorted(space.object_labels),
        structure_labels=sorted(space.structure_labels),
        surface_places_labels=sorted(space.surface_places_labels),
        dynamic_labels=sorted(space.dynamic_labels),
        invalid_labels=sorted(space.invalid_labels),
    )


def floor_scale_to_msg(estimate, header: Header):
    """A :class:`~m2h_ros.geometry.scale.ScaleEstimate` as m2h_ros/FloorScale (NaN where there is none)."""
    from m2h_ros.msg import FloorScale

    nan = float("nan")
    return FloorScale(header=header, scale=estimate.scale, measured=nan if estimate.measured is None else estimate.measured,
                      accepted=estimate.accepted, confidence=estimate.confidence,
                      plane=list(estimate.plane) if estimate.plane is not None else [nan] * 4, reason=estimate.reason)  # fmt: skip
