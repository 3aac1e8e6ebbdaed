"""The perception node over real DDS: outputs, geometry, missing camera_info, bad input."""

import time

import numpy as np
import pytest

from .helpers import (
    ANSWER_DEADLINE_S,
    IMAGE_OUTPUTS,
    Collector,
    assert_image_outputs,
    finish,
    make_camera_info,
    make_header,
    make_image,
    stamp_of,
    start_python,
    stop,
    until,
)

pytestmark = [pytest.mark.ros, pytest.mark.slow]

W, H = 64, 48


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A small model with random weights: the node's behaviour does not depend on trained weights."""
    import torch

    from m2h_ros.model.build import build_model
    from m2h_ros.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    return save_checkpoint(build_model("m2h_lite"), tmp_path_factory.mktemp("weights") / "lite.safetensors")


def start_node(env, weights, *params):
    args = ["--ros-args", "-p", f"weights:={weights}", "-p", "input_size:=[56,56]", "-p", "diagnostics_period_s:=0.5"]
    for p in params:
        args += ["-p", p]
    return start_python("m2h_ros.ros.perception_node", *args, env=env, module=True)


def frames(rounds=None, with_info=True, period=0.15):
    """Camera frames every ``period`` s: ``rounds`` of them, or until the answer deadline."""
    rgb = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    for i in range(rounds) if rounds is not None else until():
        t = 1000.0 + i * 0.1
        yield make_image(rgb, t), (make_camera_info(W, H, t) if with_info else None)
        time.sleep(period)


def latest_diagnostics(collector):
    msgs = collector.messages["/diagnostics"]
    values = [{kv.key: kv.value for kv in s.values} for m in msgs for s in m.status if "perception" in s.name]
    return values[-1] if values else {}


def test_every_output_arrives_with_encoding_size_header_and_layout(ros_env, weights):
    from m2h_ros.msg import LabelSpace
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    from m2h_ros.ros.conversions import image_to_array, pointcloud2_to_cloud

    node = start_node(ros_env, weights, "cloud.min_range_m:=0.0")  # random weights predict depths near 0
    c = Collector()
    try:
        for name in IMAGE_OUTPUTS:
            c.subscribe(name, Image)
        c.subscribe("points", PointCloud2)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        c.subscribe("camera_info_out", CameraInfo, latched)  # as Hydra-ROS subscribes it
        c.subscribe("label_space", LabelSpace, latched)
        image_pub = c.node.create_publisher(Image, "image", 10)
        info_pub = c.node.create_publisher(CameraInfo, "camera_info", 10)
        sent = {}
        topics = [*IMAGE_OUTPUTS, "points", "label_space", "camera_info_out"]
        for image, info in frames():
            info_pub.publish(info)
            image_pub.publish(image)
            sent[stamp_of(image.header)] = image
            if c.spin_until(lambda: all(c.messages[t] for t in topics), 0.1, node):
                break
        assert all(c.messages[t] for t in topics), ({t: len(c.messages[t]) for t in topics}, stop(node)[1])
    finally:
        c.close()
        code, out = stop(node)
    assert code == 0, out
    assert "Traceback" not in out, out

    assert_image_outputs(c.messages, sent, W, H)
    by_stamp = {name: {m.header.stamp.sec * 10**9 + m.header.stamp.nanosec: m for m in c.messages[name]}
                for name in ("depth", "semantic")}  # fmt: skip

    space = c.messages["label_space"][0]
    assert space.name == "synthetic" and len(space.names) == 20 == len(space.colors)

    info = c.messages["camera_info_out"][-1]
    assert (info.width, info.height) == (W, H) and stamp_of(info.header) in sent

    # Every point lies on the ray of its pixel, at that pixel's published depth.
    cloud_msg = c.messages["points"][-1]
    assert [(f.name, f.offset, f.datatype) for f in cloud_msg.fields] == [
        ("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("rgb", 12, 6), ("label", 16, 5)]  # fmt: skip
    assert cloud_msg.point_step == 20 and cloud_msg.height == 1
    key = cloud_msg.header.stamp.sec * 10**9 + cloud_msg.header.stamp.nanosec
    depth_same = image_to_array(by_stamp["depth"][key])
    labels_same = image_to_array(by_stamp["semantic"][key])
    cloud = pointcloud2_to_cloud(cloud_msg)
    assert len(cloud) == W * H
    f, cx, cy = 0.8 * W, (W - 1) / 2, (H - 1) / 2
    u = cloud["x"] / cloud["z"] * f + cx
    v = cloud["y"] / cloud["z"] * f + cy
    ui, vi = np.round(u).astype(int), np.round(v).astype(int)
    np.testing.assert_allclose(u, ui, atol=1e-3)
    np.testing.assert_allclose(v, vi, atol=1e-3)
    np.testing.assert_allclose(cloud["z"], depth_same[vi, ui], rtol=1e-6)
    np.testing.assert_array_equal(cloud["label"], labels_same[vi, ui])
    rgb = sent[stamp_of(cloud_msg.header)]
    from m2h_ros.ros.conversions import image_to_rgb8

    colors = image_to_rgb8(rgb)[vi, ui].astype(np.uint32)
    np.testing.assert_array_equal(cloud["rgb"], (colors[:, 0] << 16) | (colors[:, 1] << 8) | colors[:, 2])


@pytest.mark.parametrize("canonical", [False, True], ids=["metric_network", "canonical_camera_network"])
def test_without_camera_info_images_still_flow_and_diagnostics_say_why(ros_env, weights, tmp_path, canonical):
    """A metric network still publishes depth, but no points; a canonical-camera network, whose depth is
    metric only through the camera's focal length, publishes no depth either (its other outputs flow)."""
    import torch
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import Image, PointCloud2

    from m2h_ros.model.build import build_model
    from m2h_ros.model.checkpoint import save_checkpoint

    if canonical:
        torch.manual_seed(0)
        weights = save_checkpoint(build_model("m2h_lite", depth_focal_px=250.0), tmp_path / "canonical.safetensors")
        flowing, missing, counter, says = "semantic", "depth", "no_depth_no_camera_info", "needs the frame's camera_info"  # fmt: skip
    else:
        flowing, missing, counter, says = "depth", "points", "no_cloud_no_camera_info", "no camera_info received"
    node = start_node(ros_env, weights)
    c = Collector()
    try:
        c.subscribe(flowing, Image)
        c.subscribe(missing, PointCloud2 if missing == "points" else Image)
        c.subscribe("/diagnostics", DiagnosticArray)
        pub = c.node.create_publisher(Image, "image", 10)
        for image, _ in frames(with_info=False):
            pub.publish(image)
            if c.spin_until(lambda: len(c.messages[flowing]) >= 3 and
                            int(latest_diagnostics(c).get(counter, 0)) >= 3, 0.1, node):  # fmt: skip
                break
        assert len(c.messages[flowing]) >= 3, stop(node)[1]
        assert not c.messages[missing]
        assert int(latest_diagnostics(c)[counter]) >= 3
    finally:
        c.close()
        code, out = stop(node)
    assert code == 0 and says in out


def test_an_image_whose_camera_info_comes_after_it_still_gets_its_cloud(ros_env, weights):
    """Callbacks of one camera's image and camera_info run in either order: the node waits (up to
    camera_info_wait_s) for the camera_info of the image's stamp instead of dropping its cloud."""
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    node = start_node(ros_env, weights, "camera_info_wait_s:=2.0")
    c = Collector()
    try:
        c.subscribe("points", PointCloud2)
        c.subscribe("/diagnostics", DiagnosticArray)
        images = c.node.create_publisher(Image, "image", 10)
        infos = c.node.create_publisher(CameraInfo, "camera_info", 10)
        for image, info in frames():
            infos.publish(make_camera_info(W, H, stamp_of(info.header) - 0.1))  # the previous frame's, again
            images.publish(image)
            c.spin_until(lambda: False, 0.05, node)  # this frame's comes 50 ms after its image
            infos.publish(info)
            if c.spin_until(lambda: len(c.messages["points"]) >= 3, 0.1, node):
                break
        assert len(c.messages["points"]) >= 3, stop(node)[1]
        c.spin_until(lambda: bool(latest_diagnostics(c)), 10.0, node)
        assert "no_cloud_unpaired_camera_info" not in latest_diagnostics(c)
    finally:
        c.close()
        stop(node)


def _bad_images():
    from sensor_msgs.msg import Image

    from m2h_ros.ros.conversions import array_to_image

    from .helpers import make_header

    yield "encoding", Image(header=make_header(1.0), height=H, width=W, encoding="yuv422", step=W * 2,
                            data=bytes(W * H * 2))  # fmt: skip
    short_step = array_to_image(np.zeros((H, W, 3), np.uint8), "rgb8", make_header(2.0))
    short_step.step = W  # smaller than width × 3
    yield "layout", short_step
    short_data = array_to_image(np.zeros((H, W, 3), np.uint8), "rgb8", make_header(3.0))
    short_data.data = bytes(10)
    yield "layout", short_data
    empty = array_to_image(np.zeros((H, W, 3), np.uint8), "rgb8", make_header(4.0))
    empty.height = empty.width = 0
    empty.data = b""
    yield "empty", empty
    # Larger than max_input_pixels (set to 1e6 below); 8000×8000 is fed in-process in its own test.
    yield "too_large", array_to_image(np.zeros((1000, 1200), np.uint8), "mono8", make_header(6.0))


def test_bad_input_is_rejected_counted_and_the_node_keeps_running(ros_env, weights):
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import CameraInfo, Image

    node = start_node(ros_env, weights, "max_input_pixels:=1000000", "rectify:=false")
    c = Collector()
    try:
        c.subscribe("depth", Image)
        c.subscribe("camera_info_out", CameraInfo)  # camera_info is paired (and checked) only when wanted
        c.subscribe("/diagnostics", DiagnosticArray)
        image_pub = c.node.create_publisher(Image, "image", 10)
        info_pub = c.node.create_publisher(CameraInfo, "camera_info", 10)
        assert c.spin_until(lambda: image_pub.get_subscription_count() > 0, ANSWER_DEADLINE_S, node), stop(node)[1]
        tiny = make_image(np.full((1, 1, 3), 7, np.uint8), 7.0)
        nan_info = make_camera_info(W, H, 8.0)
        nan_info.k = [float("nan")] * 9
        wrong_size = make_camera_info(2 * W, 2 * H, 9.0)
        distorted = make_camera_info(W, H, 10.0)
        distorted.d = [-0.2, 0.05, 0.0, 0.0, 0.0]
        expected = {"rejected_encoding", "rejected_layout", "rejected_empty", "rejected_too_large",
                    "rejected_camera_info_values", "rejected_camera_info_size", "rejected_distorted"}  # fmt: skip

        def tiny_answered() -> bool:
            return any(m.width == 1 and m.height == 1 for m in c.messages["depth"])

        for _ in until():
            for _, msg in _bad_images():
                image_pub.publish(msg)
                c.spin_until(lambda: False, 0.05)
            image_pub.publish(tiny)
            info_pub.publish(nan_info)
            image_pub.publish(make_image(np.zeros((H, W, 3), np.uint8), 8.0))
            c.spin_until(lambda: False, 0.3)
            info_pub.publish(wrong_size)
            image_pub.publish(make_image(np.zeros((H, W, 3), np.uint8), 9.0))
            c.spin_until(lambda: False, 0.3)
            info_pub.publish(distorted)
            image_pub.publish(make_image(np.zeros((H, W, 3), np.uint8), 10.0))
            # the 1×1 frame may be replaced in the node's newest-frame slot: send it again until it is answered
            if c.spin_until(lambda: expected <= set(latest_diagnostics(c)) and tiny_answered(), 0.5, node):
                break
        diag = latest_diagnostics(c)
        assert expected <= set(diag), (diag, stop(node)[1])
        assert node.poll() is None, "the node must survive bad input"
        assert tiny_answered(), "a 1×1 image is valid input"
        assert int(diag["frames_out"]) >= 2
    finally:
        c.close()
        code, out = stop(node)
    assert code == 0 and "Traceback" not in out, out
    for reason in ("unsupported input encoding 'yuv422'", "step 64 is smaller than width", "empty image",
                   "exceeds max_input_pixels", "camera_info is 128×96 but the image is 64×48",
                   "intrinsics must be finite", "plumb_bob distortion and rectify is off"):  # fmt: skip
        assert reason in out, reason


def test_a_distorted_camera_is_rectified_and_the_qos_is_as_configured(ros_env, weights):
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image

    from m2h_ros.geometry.rectify import Rectifier
    from m2h_ros.ros.conversions import image_to_array

    node = start_node(ros_env, weights, "input_qos:=reliable", "output_qos:=sensor_data")
    c = Collector()
    best_effort = ReliabilityPolicy.BEST_EFFORT
    try:
        c.subscribe("color", Image, QoSProfile(depth=10, reliability=best_effort))
        c.subscribe("camera_info_out", CameraInfo, QoSProfile(depth=1, reliability=best_effort,
                                                              durability=DurabilityPolicy.TRANSIENT_LOCAL))  # fmt: skip
        image_pub = c.node.create_publisher(Image, "image", 10)
        info_pub = c.node.create_publisher(CameraInfo, "camera_info", 10)
        rgb = np.random.default_rng(1).integers(0, 255, (H, W, 3), dtype=np.uint8)
        sent = {}
        for i in until():
            t = 2000.0 + i * 0.1
            info = make_camera_info(W, H, t)
            info.d = [-0.3, 0.1, 0.002, -0.001, 0.0]
            info_pub.publish(info)
            image_pub.publish(make_image(rgb, t))
            sent[t] = info
            if c.spin_until(lambda: c.messages["color"] and c.messages["camera_info_out"], 0.15, node):
                break
        assert c.messages["color"] and c.messages["camera_info_out"], stop(node)[1]
        (node_pub,) = c.node.get_publishers_info_by_topic("/color")
        node_sub = [s for s in c.node.get_subscriptions_info_by_topic("/image") if s.node_name == "perception_node"]
        assert node_pub.qos_profile.reliability == best_effort
        assert node_sub[0].qos_profile.reliability == ReliabilityPolicy.RELIABLE
    finally:
        c.close()
        code, out = stop(node)
    assert code == 0 and "Traceback" not in out, out
    color = c.messages["color"][-1]
    info = sent[stamp_of(color.header)]
    expected = Rectifier(info.k, info.d, info.distortion_model, (W, H), info.p)(rgb)
    np.testing.assert_array_equal(image_to_array(color), expected)  # the network ran on the rectified image
    assert not np.array_equal(expected, rgb)
    out_info = c.messages["camera_info_out"][-1]
    assert out_info.distortion_model == "plumb_bob" and list(out_info.d) == [0.0] * 5
    assert list(out_info.k) == list(info.k)  # the rectified camera is P = [K | 0] here


def test_ctrl_c_while_frames_flow_ends_the_node_cleanly(ros_env, weights):
    from sensor_msgs.msg import CameraInfo, Image

    node = start_node(ros_env, weights)
    c = Collector()
    try:
        c.subscribe("depth", Image)
        image_pub = c.node.create_publisher(Image, "image", 10)
        info_pub = c.node.create_publisher(CameraInfo, "camera_info", 10)
        for image, info in frames(period=0.02):
            info_pub.publish(info)
            image_pub.publish(image)
            if c.spin_until(lambda: len(c.messages["depth"]) >= 3, 0.02, node):
                break
        assert len(c.messages["depth"]) >= 3, stop(node)[1]
        for image, info in frames(rounds=3, period=0.0):  # the worker is busy with a frame when Ctrl-C comes
            info_pub.publish(info)
            image_pub.publish(image)
    finally:
        code, out = stop(node, timeout=ANSWER_DEADLINE_S)
        c.close()
    assert code == 0, out
    for symptom in ("Traceback", "context is invalid", "frame failed"):
        assert symptom not in out, out


def test_floor_scale_mode_publishes_its_estimate_and_scales_the_depth_by_it(ros_env):
    from m2h_ros.msg import FloorScale
    from sensor_msgs.msg import CameraInfo, Image

    from m2h_ros.geometry.cloud import Intrinsics
    from m2h_ros.inference.predictor import Predictor, PredictorConfig
    from m2h_ros.ros.conversions import camera_info_from_intrinsics, image_to_array
    from m2h_ros.synth.generate import SynthConfig, render_scene
    from m2h_ros.weights import BUNDLED_INPUT_SIZE, BUNDLED_WEIGHTS

    _, rendered = render_scene(4, SynthConfig(width=160, height=120, frames_per_scene=2))
    frame = rendered[0]  # a home's floor, seen by the bundled weights (which label it)
    node = start_python("m2h_ros.ros.perception_node", "--ros-args", "-p", "scale.mode:=floor",
                        "-p", "scale.camera_height_m:=1.2", env=ros_env, module=True)  # fmt: skip
    c = Collector()
    try:
        c.subscribe("depth", Image)
        c.subscribe("floor_scale", FloorScale)
        image_pub = c.node.create_publisher(Image, "image", 10)
        info_pub = c.node.create_publisher(CameraInfo, "camera_info", 10)

        def estimated_and_answered() -> bool:
            """A frame with an estimate (the first may come before its camera_info) and its depth are in."""
            stamps = {stamp_of(m.header) for m in c.messages["depth"]}
            return any(m.reason != "no_camera_info" and stamp_of(m.header) in stamps for m in c.messages["floor_scale"])

        for i in until():
            t = 3000.0 + i * 0.1
            info_pub.publish(camera_info_from_intrinsics(Intrinsics.from_matrix(frame.K, 160, 120), make_header(t)))
            image_pub.publish(make_image(frame.rgb, t))
            if c.spin_until(estimated_and_answered, 0.2, node):
                break
        assert c.messages["floor_scale"], stop(node)[1]
    finally:
        c.close()
        code, out = stop(node)
    assert code == 0 and "Traceback" not in out, out
    depths = {stamp_of(m.header): m for m in c.messages["depth"]}
    estimate = next(
        m for m in c.messages["floor_scale"] if m.reason != "no_camera_info" and stamp_of(m.header) in depths
    )
    assert estimate.reason == "ok" and estimate.accepted and estimate.scale != 1.0 and 0 < estimate.confidence <= 1
    assert estimate.measured > 0 and len(estimate.plane) == 4
    depth = depths[stamp_of(estimate.header)]
    predictor = Predictor.from_checkpoint(BUNDLED_WEIGHTS, PredictorConfig(input_size=BUNDLED_INPUT_SIZE, device="cpu"))
    unscaled = predictor.predict(frame.rgb, float(frame.K[0, 0])).depth
    np.testing.assert_allclose(image_to_array(depth), unscaled * estimate.scale, rtol=1e-3, atol=1e-4)


def test_invalid_parameter_stops_with_one_clear_line(ros_env, weights):
    node = start_node(ros_env, weights, "outputs:=[depth,holograms]")
    code, out = finish(node)
    assert code == 2, out
    assert "'outputs' has unknown names ['holograms']" in out and "Traceback" not in out


def test_huge_image_is_rejected_before_decoding(ros_env, weights):
    """An 8000×8000 frame, handed to the node's image callback in-process (64 MB is beyond what
    default DDS delivers to a sensor-data subscription)."""
    import rclpy
    from rclpy.parameter import Parameter

    from m2h_ros.ros.conversions import array_to_image
    from m2h_ros.ros.perception_node import PerceptionNode

    from .helpers import make_header

    rclpy.init()
    try:
        node = PerceptionNode(parameter_overrides=[Parameter("weights", value=str(weights)),
                                                   Parameter("input_size", value=[56, 56])])  # fmt: skip
        node._on_image(array_to_image(np.zeros((8000, 8000), np.uint8), "mono8", make_header(1.0)))
        node._on_image(make_image(np.zeros((1, 1, 3), np.uint8), 2.0))
        assert node.stats.counts["rejected_too_large"] == 1
        assert node.slot is not None and node.slot.rgb.shape == (1, 1, 3)  # the next frame is taken as usual
        node.destroy_node()
    finally:
        rclpy.try_shutdown()


def test_shipped_config_is_valid():
    from m2h_ros.config import load
    from m2h_ros.ros.perception_config import PerceptionConfig
    from m2h_ros.ros.perception_outputs import OUTPUTS

    from .helpers import REPO

    cfg = load(PerceptionConfig, REPO / "config" / "perception.yaml", node="perception_node")
    assert cfg.outputs == OUTPUTS and cfg.cloud.stride == 2 and cfg.input_size == (224, 298)


def test_m2h_run_starts_the_node_with_the_config_file(ros_env, weights, tmp_path):
    from sensor_msgs.msg import Image

    from .helpers import REPO

    config = tmp_path / "perception.yaml"
    config.write_text((REPO / "config" / "perception.yaml").read_text().replace("[224, 298]", "[56, 56]"))
    proc = start_python("m2h_ros.cli", "run", "--config", str(config), "--weights", str(weights),
                        "--image", "/cam/image", env=ros_env, module=True)  # fmt: skip
    c = Collector()
    try:
        c.subscribe("/m2h/semantic", Image)
        pub = c.node.create_publisher(Image, "/cam/image", 10)
        for image, _ in frames():
            pub.publish(image)
            if c.spin_until(lambda: c.messages["/m2h/semantic"], 0.1, proc):
                break
        assert c.messages["/m2h/semantic"], stop(proc)[1]
    finally:
        c.close()
        code, out = stop(proc)
    assert code == 0, out
    assert "input 56×56" in out  # the file's parameters reached the node in its namespace
