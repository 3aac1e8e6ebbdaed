"""Helpers for tests that run real ROS 2 nodes in subprocesses and talk to them over DDS.

Used by the pytest integration tests here and by the launch_testing tests, so both assert the same.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# How long a test waits for a node to start (importing torch, loading weights) and answer, or to stop.
# Generous, so that the suite passes on a machine oversubscribed several times over; a passing test
# returns as soon as its condition holds.
ANSWER_DEADLINE_S = 240.0
# The perception node's image outputs: encoding and bytes per pixel.
IMAGE_OUTPUTS = {
    "depth": ("32FC1", 4), "semantic": ("16SC1", 2), "semantic_color": ("rgb8", 3), "semantic_overlay": ("rgb8", 3),
    "normals": ("32FC3", 12), "normals_color": ("rgb8", 3), "edges": ("32FC1", 4), "edges_color": ("mono8", 1),
    "color": ("rgb8", 3),
}  # fmt: skip


def start_python(code_or_module: str, *args: str, env: dict, module: bool = False) -> subprocess.Popen:
    """Start ``python -c CODE`` (or ``python -m MODULE``) from the repository root; output is captured."""
    cmd = [sys.executable, "-m" if module else "-c", code_or_module, *args]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> tuple[int, str]:
    """SIGINT, then wait; returns (exit code, combined output)."""
    if proc.poll() is None:
        proc.send_signal(subprocess.signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return proc.returncode, out or ""


def finish(proc: subprocess.Popen, timeout: float = ANSWER_DEADLINE_S) -> tuple[int, str]:
    """For a process that ends by itself: wait up to ``timeout``, then interrupt it; (exit code, output)."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:  # retrying communicate (in stop) loses no output
        return stop(proc)
    return proc.returncode, out or ""


def read_until(proc: subprocess.Popen, text: str, timeout: float = ANSWER_DEADLINE_S) -> str:
    """The process's output up to the first chunk containing ``text``, its end, or the deadline.

    Reads the pipe's file descriptor directly (never its buffered reader), so that a later
    :func:`stop` or ``communicate`` gets the rest and a silent process cannot block the test.
    """
    fd, seen, end = proc.stdout.fileno(), b"", time.monotonic() + timeout
    while text.encode() not in seen and (left := end - time.monotonic()) > 0:
        if not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 1 << 16)
        if not chunk:  # the process closed its output
            break
        seen += chunk
    return seen.decode(errors="replace")


def until(deadline_s: float = ANSWER_DEADLINE_S):
    """0, 1, 2, … until ``deadline_s`` has passed: the rounds of a loop that feeds a node until it answers."""
    end, i = time.monotonic() + deadline_s, 0
    while time.monotonic() < end:
        yield i
        i += 1


class Collector:
    """A test-side node that records every message of the topics it is given."""

    def __init__(self, name: str = "test_collector"):
        import rclpy

        if not rclpy.ok():
            rclpy.init()
        self.node = rclpy.create_node(name)
        self.messages: dict[str, list] = defaultdict(list)

    def subscribe(self, topic: str, msg_type, qos=10) -> None:
        self.node.create_subscription(msg_type, topic, self.messages[topic].append, qos)

    def spin_until(self, done: Callable[[], bool], timeout: float, proc: subprocess.Popen | None = None) -> bool:
        import rclpy

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if done():
                return True
            if proc is not None and proc.poll() is not None:
                return done()
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return done()

    def close(self) -> None:
        import rclpy

        self.node.destroy_node()
        rclpy.try_shutdown()


def stamp_of(header) -> float:
    from m2h_ros.ros.conversions import stamp_seconds

    return stamp_seconds(header)


def make_header(t: float, frame_id: str = "camera_color_optical_frame"):
    from m2h_ros.ros.conversions import header_at

    return header_at(t, frame_id)


def make_image(rgb, t: float, encoding: str = "rgb8"):
    """An Image message from an (H, W, 3) RGB array in the given colour encoding."""
    import numpy as np

    from m2h_ros.ros.conversions import array_to_image

    arr = {"rgb8": rgb, "bgr8": rgb[..., ::-1], "mono8": rgb.mean(axis=2).astype(np.uint8),
           "rgba8": np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]),
           "bgra8": np.dstack([rgb[..., ::-1], np.full(rgb.shape[:2], 255, np.uint8)])}[encoding]  # fmt: skip
    return array_to_image(arr, encoding, make_header(t))


def make_camera_info(width: int, height: int, t: float, f: float | None = None):
    from m2h_ros.geometry.cloud import Intrinsics
    from m2h_ros.ros.conversions import camera_info_from_intrinsics

    f = f if f is not None else 0.8 * width
    K = Intrinsics(f, f, (width - 1) / 2, (height - 1) / 2, width, height)
    return camera_info_from_intrinsics(K, make_header(t))


def assert_image_outputs(messages: dict, sent: dict, width: int, height: int, num_labels: int = 20) -> None:
    """Every image output has its encoding, the input's size and header, and valid values: depth
    positive, labels in range or -1, normals unit length. ``messages`` maps output names (relative) to
    received messages, ``sent`` input stamps to the images sent."""
    import numpy as np

    from m2h_ros.ros.conversions import image_to_array, image_to_rgb8

    for name, (encoding, bytes_per_px) in IMAGE_OUTPUTS.items():
        msg = messages[name][-1]
        assert msg.encoding == encoding, name
        assert (msg.width, msg.height, msg.step) == (width, height, width * bytes_per_px), name
        assert msg.header.frame_id == "camera_color_optical_frame" and stamp_of(msg.header) in sent, name
    depth = image_to_array(messages["depth"][-1])
    assert np.isfinite(depth).all() and (depth > 0).all()
    semantic = image_to_array(messages["semantic"][-1])
    assert semantic.min() >= -1 and semantic.max() < num_labels
    normals = image_to_array(messages["normals"][-1])
    np.testing.assert_allclose(np.linalg.norm(normals, axis=2), 1.0, atol=1e-4)
    color = messages["color"][-1]  # an undistorted camera's image comes back as it was sent
    np.testing.assert_array_equal(image_to_array(color), image_to_rgb8(sent[stamp_of(color.header)]))
