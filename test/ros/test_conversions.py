"""The image codec (cv_bridge semantics), CameraInfo and PointCloud2 conversions."""

import numpy as np
import pytest

pytestmark = pytest.mark.ros

ENCODED = {
    "rgb8": (np.uint8, 3), "bgr8": (np.uint8, 3), "rgba8": (np.uint8, 4), "bgra8": (np.uint8, 4),
    "mono8": (np.uint8, 1), "mono16": (np.uint16, 1), "16UC1": (np.uint16, 1), "16SC1": (np.int16, 1),
    "32SC1": (np.int32, 1), "32FC1": (np.float32, 1), "32FC3": (np.float32, 3), "64FC1": (np.float64, 1),
}  # fmt: skip


@pytest.mark.parametrize("encoding", list(ENCODED))
def test_every_encoding_round_trips(encoding):
    from m2h_ros.ros.conversions import array_to_image, image_to_array

    dtype, ch = ENCODED[encoding]
    rng = np.random.default_rng(0)
    shape = (5, 7) if ch == 1 else (5, 7, ch)
    arr = (rng.normal(size=shape) * 1000).astype(dtype)
    msg = array_to_image(arr, encoding)
    assert (msg.height, msg.width, msg.step) == (5, 7, 7 * ch * np.dtype(dtype).itemsize)
    back = image_to_array(msg)
    assert back.dtype == dtype and back.shape == shape
    np.testing.assert_array_equal(back, arr)


def test_row_padding_and_big_endian_are_honoured():
    from sensor_msgs.msg import Image

    from m2h_ros.ros.conversions import image_to_array

    arr = np.arange(12, dtype=np.uint16).reshape(3, 4) * 300
    rows = [arr[r].astype(">u2").tobytes() + b"\xff" * 6 for r in range(3)]  # 6 bytes of padding per row
    msg = Image(height=3, width=4, encoding="16UC1", is_bigendian=1, step=14, data=b"".join(rows))
    out = image_to_array(msg)
    np.testing.assert_array_equal(out, arr)
    assert out.dtype == np.uint16 and out.dtype.byteorder in "=<|"


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
def test_colour_encodings_become_rgb(encoding):
    from m2h_ros.ros.conversions import image_to_rgb8

    from .helpers import make_image

    rgb = np.random.default_rng(1).integers(0, 255, (4, 6, 3), dtype=np.uint8)
    out = image_to_rgb8(make_image(rgb, 0.0, encoding))
    expected = np.repeat(rgb.mean(axis=2).astype(np.uint8)[..., None], 3, 2) if encoding == "mono8" else rgb
    assert out.shape == (4, 6, 3) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, expected)


def test_malformed_images_raise_clear_errors():
    from sensor_msgs.msg import Image

    from m2h_ros.errors import ImageError
    from m2h_ros.ros.conversions import array_to_image, image_to_array, image_to_rgb8

    with pytest.raises(ImageError, match="unsupported encoding 'yuv422'"):
        image_to_array(Image(height=1, width=1, encoding="yuv422", step=2, data=b"\0\0"))
    with pytest.raises(ImageError, match="unsupported input encoding '32FC1'; send one of rgb8"):
        image_to_rgb8(array_to_image(np.zeros((2, 2), np.float32), "32FC1"))
    with pytest.raises(ImageError, match=r"empty image \(0×3\)"):
        image_to_array(Image(height=3, width=0, encoding="mono8", step=0, data=b""))
    with pytest.raises(ImageError, match="step 2 is smaller than width × bytes per pixel = 9"):
        image_to_array(Image(height=1, width=3, encoding="rgb8", step=2, data=bytes(9)))
    with pytest.raises(ImageError, match="data holds 5 bytes but step × height = 18"):
        image_to_array(Image(height=2, width=3, encoding="rgb8", step=9, data=bytes(5)))
    with pytest.raises(ImageError, match="rgb8 needs 3 channel"):
        array_to_image(np.zeros((2, 2), np.uint8), "rgb8")


def test_camera_info_round_trip_and_validation():
    from m2h_ros.geometry.cloud import Intrinsics
    from m2h_ros.ros.conversions import camera_info_from_intrinsics, header_at, intrinsics_from_camera_info

    K = Intrinsics(500.0, 510.0, 320.5, 240.25, 640, 480)
    msg = camera_info_from_intrinsics(K, header_at(12.5, "cam"))
    assert intrinsics_from_camera_info(msg) == K
    assert (
        msg.header.stamp.sec == 12 and msg.header.stamp.nanosec == 500_000_000 and list(msg.p)[:3] == [500.0, 0, 320.5]
    )
    msg.k = [float("nan")] * 9
    with pytest.raises(ValueError, match="intrinsics must be finite"):
        intrinsics_from_camera_info(msg)
    msg.k = [0.0] * 9
    with pytest.raises(ValueError, match="focal lengths must be positive"):
        intrinsics_from_camera_info(msg)


def test_pointcloud2_round_trip():
    from m2h_ros.geometry.cloud import CLOUD_DTYPE
    from m2h_ros.ros.conversions import cloud_to_pointcloud2, header_at, pointcloud2_to_cloud

    cloud = np.zeros(3, CLOUD_DTYPE)
    cloud["x"], cloud["rgb"], cloud["label"] = [1, 2, 3], [0xFF0000, 0x00FF00, 0x0000FF], [-1, 0, 7]
    msg = cloud_to_pointcloud2(cloud, header_at(1.0, "cam"))
    assert (msg.width, msg.height, msg.point_step, msg.row_step) == (3, 1, 20, 60)
    np.testing.assert_array_equal(pointcloud2_to_cloud(msg), cloud)
