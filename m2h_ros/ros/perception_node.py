"""perception_node: camera image in; depth, semantics, normals, edges and a semantic cloud out.

Topics (relative; remap or namespace them):

    in   image (sensor_msgs/Image: rgb8, bgr8, rgba8, bgra8, mono8)   QoS input_qos (sensor data)
         camera_info (sensor_msgs/CameraInfo), paired with images by stamp
    out  depth 32FC1 m (NaN invalid) · semantic 16SC1 (-1 unknown) · semantic_color rgb8 ·
         semantic_overlay rgb8 · normals 32FC3 · normals_color rgb8 · edges 32FC1 · edges_color mono8 ·
         color rgb8 (the image the outputs belong to) · camera_info_out (output ``camera_info``: the
         outputs' pinhole camera, transient-local) · points (PointCloud2 x y z rgb label) ·
         label_space (latched) · floor_scale (scale.mode floor) · /diagnostics   QoS output_qos (reliable)

Every output carries the input image's header. An image whose camera_info has distortion is rectified
first (``rectify``, maps cached), so that every output, camera_info_out and the cloud are of one
pinhole camera; with ``rectify`` off such images are refused. Inference runs on a worker thread that
always takes the newest frame; a frame that arrives while another waits replaces it and is counted as
dropped. Only subscribed outputs' messages are built; with no subscriber at all the network does not run.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from dataclasses import dataclass

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from m2h_ros import labels as label_spaces
from m2h_ros.errors import ImageError
from m2h_ros.geometry.scale import FloorScale
from m2h_ros.ros import conversions as conv
from m2h_ros.ros.camera_input import CameraError, CameraInput
from m2h_ros.ros.parameters import declare_config
from m2h_ros.ros.perception_config import PARAMETERS, QOS, PerceptionConfig
from m2h_ros.ros.perception_outputs import NEEDS_CAMERA, OUTPUT_TOPICS, OutputBuilder


class Stats:
    """Counters and recent timings for /diagnostics. Thread-safe."""

    def __init__(self, window: int = 300):
        self.lock = threading.Lock()
        self.counts: collections.Counter = collections.Counter()
        self.latency_ms: collections.deque = collections.deque(maxlen=window)
        self.network_ms: collections.deque = collections.deque(maxlen=window)
        self.arrivals: collections.deque = collections.deque(maxlen=window)
        self.departures: collections.deque = collections.deque(maxlen=window)

    def count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n

    @staticmethod
    def rate(stamps: collections.deque, now: float, horizon: float = 5.0) -> float:
        recent = [t for t in stamps if now - t <= horizon]
        return (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0


@dataclass
class Frame:
    header: object
    rgb: np.ndarray
    received: float


class PerceptionNode(Node):
    def __init__(self, **kwargs):
        super().__init__("perception_node", **kwargs)
        self.config = self._read_parameters()
        from m2h_ros.inference.predictor import Predictor, PredictorConfig
        from m2h_ros.model.checkpoint import load_checkpoint

        model = load_checkpoint(self.config.weights_path)
        self.predictor = Predictor(model, PredictorConfig(
            device=self.config.device, dtype=self.config.dtype, backend=self.config.backend,
            input_size=self.config.input_size, threads=self.config.threads, resize=self.config.resize))  # fmt: skip
        self.predictor.warmup()
        model_space = label_spaces.get_label_space(model.config.label_space)
        self.label_space = label_spaces.get_label_space(self.config.label_space or model_space.name)
        # Model classes the label space calls invalid (void) are published as -1 (unknown).
        table = label_spaces.remap_table(model_space, self.label_space)
        table[sorted(model_space.invalid_labels)] = label_spaces.UNKNOWN
        self.outputs = OutputBuilder(table.astype(np.int16), self.label_space, self.config.overlay_alpha,
                                     self.config.cloud)  # fmt: skip
        self.camera = CameraInput(self.config.camera_info_tolerance_s, self.config.rectify,
                                  self.config.camera_info_wait_s)  # fmt: skip
        self.floor_scale = FloorScale(self.config.scale) if self.config.scale.mode == "floor" else None
        self.ground = np.isin(np.arange(len(model_space)), sorted(model_space.ground_labels))  # by model class
        # A canonical-camera network's depth is metric only through the camera's focal length.
        self.needs_camera = NEEDS_CAMERA | ({"depth"} if self.predictor.needs_focal else set())
        self.last_scale = None

        output_qos = QOS[self.config.output_qos]
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        types = {"camera_info": CameraInfo, "points": PointCloud2}
        # Hydra-ROS subscribes camera_info transient-local (QoS(1).transient_local()), which a volatile
        # publisher cannot serve; volatile subscribers match a transient-local publisher as well.
        qos = {"camera_info": QoSProfile(depth=5, reliability=output_qos.reliability,
                                         durability=DurabilityPolicy.TRANSIENT_LOCAL)}  # fmt: skip
        self.pubs = {name: self.create_publisher(types.get(name, Image), OUTPUT_TOPICS.get(name, name),
                                                 qos.get(name, output_qos))
                     for name in self.config.outputs}  # fmt: skip
        from m2h_ros.msg import LabelSpace

        self.label_pub = self.create_publisher(LabelSpace, "label_space", latched)
        self.label_pub.publish(conv.label_space_to_msg(self.label_space, conv.header_now(self)))
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        if self.floor_scale is not None:
            from m2h_ros.msg import FloorScale as FloorScaleMsg

            self.scale_pub = self.create_publisher(FloorScaleMsg, "floor_scale", output_qos)

        self.stats = Stats()
        self.slot: Frame | None = None
        self.slot_cond = threading.Condition()
        self.running = True
        self.last_processed = 0.0
        self.last_warning: dict[str, float] = {}
        self.create_subscription(Image, "image", self._on_image, QOS[self.config.input_qos])
        self.create_subscription(CameraInfo, "camera_info", self.camera.add, QOS[self.config.input_qos])
        self.create_timer(self.config.diagnostics_period_s, self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.worker = threading.Thread(target=self._work, name="m2h_inference", daemon=True)
        self.worker.start()
        self.get_logger().info(
            f"ready: {self.config.weights_path.name} ({model.config.variant}), {self.predictor.device}/"
            f"{self.config.backend}, input {self.config.input_size[0]}×{self.config.input_size[1]}, "
            f"labels in {self.label_space.name}, outputs: {', '.join(self.config.outputs)}"
        )

    # -- parameters ---------------------------------------------------------------------------------
    def _read_parameters(self) -> PerceptionConfig:
        return declare_config(self, PerceptionConfig, PARAMETERS, dynamic=("max_rate_hz",))

    def _on_set_parameters(self, params) -> SetParametersResult:
        for p in params:
            if p.name == "max_rate_hz":
                if p.value < 0:
                    return SetParametersResult(successful=False, reason="max_rate_hz must be >= 0")
                self.config.max_rate_hz = float(p.value)
        return SetParametersResult(successful=True)

    # -- input --------------------------------------------------------------------------------------
    def _warn(self, key: str, text: str, period_s: float = 5.0) -> None:
        now = time.monotonic()
        if now - self.last_warning.get(key, -1e9) >= period_s:
            self.last_warning[key] = now
            self.get_logger().warning(text)

    def _reject(self, reason: str, detail: str) -> None:
        self.stats.count(f"rejected_{reason}")
        self._warn(f"reject_{reason}", f"rejected image: {detail} (counted as rejected_{reason} in /diagnostics)")

    def _on_image(self, msg: Image) -> None:
        received = time.monotonic()
        self.stats.count("frames_in")
        with self.stats.lock:
            self.stats.arrivals.append(received)
        if msg.width * msg.height > self.config.max_input_pixels:
            return self._reject("too_large", f"{msg.width}×{msg.height} exceeds max_input_pixels="
                                f"{self.config.max_input_pixels}")  # fmt: skip
        try:
            rgb = conv.image_to_rgb8(msg)
        except ImageError as e:
            return self._reject(e.reason, str(e))
        with self.slot_cond:
            if self.slot is not None:
                self.stats.count("dropped")
            self.slot = Frame(msg.header, rgb, received)
            self.slot_cond.notify()

    # -- work ---------------------------------------------------------------------------------------
    def _take(self) -> Frame | None:
        with self.slot_cond:
            while self.running and self.slot is None:
                self.slot_cond.wait(timeout=0.2)
            frame, self.slot = self.slot, None
        if frame is not None and self.config.max_rate_hz > 0:
            wait = self.last_processed + 1.0 / self.config.max_rate_hz - time.monotonic()
            if wait > 0:  # too early: hold it (a newer frame may replace it meanwhile)
                time.sleep(wait)
                with self.slot_cond:
                    if self.slot is not None:
                        self.stats.count("dropped")
                        frame, self.slot = self.slot, None
        return frame

    def _live(self) -> bool:
        """Not shutting down: Ctrl-C invalidates the context before destroy_node stops the worker."""
        return self.running and self.context.ok()

    def _work(self) -> None:
        while self._live():
            frame = self._take()
            if frame is None:
                continue
            try:
                self._process(frame)
            except Exception as e:  # a bad frame must not stop the node
                if not self._live():
                    return  # the context went away while this frame was published: nothing is lost
                self.stats.count("errors")
                self._warn("process", f"frame failed: {type(e).__name__}: {e}")

    def _wanted(self, name: str) -> bool:
        pub = self.pubs.get(name)
        return pub is not None and pub.get_subscription_count() > 0

    def _process(self, frame: Frame) -> None:
        wanted = {name for name in self.pubs if self._wanted(name)}
        if not wanted:
            self.stats.count("idle")
            return
        self.last_processed = time.monotonic()
        rgb, K = self._pinhole(frame, count_missing=bool(wanted & self.needs_camera))
        if rgb is None:
            return
        if K is None and "depth" in wanted & self.needs_camera:
            wanted.discard("depth")
            self.stats.count("no_depth_no_camera_info")
            self._warn("no_depth_no_camera_info", "the network predicts depth for a canonical camera and needs the "
                       "frame's camera_info to make it metric: no depth for this frame")  # fmt: skip
        pred = self.predictor.predict(rgb, None if K is None else K.fx)
        with self.stats.lock:
            self.stats.network_ms.append(pred.timings_ms["network"])
        if self.floor_scale is not None:
            pred = self._metric(frame.header, pred, K)
        for name, msg in self.outputs.build(frame.header, rgb, pred, wanted, K).items():
            if not self._live():
                return
            self.pubs[name].publish(msg)
        done = time.monotonic()
        self.stats.count("frames_out")
        with self.stats.lock:
            self.stats.latency_ms.append((done - frame.received) * 1e3)
            self.stats.departures.append(done)

    def _metric(self, header, pred, K):
        """The prediction with depth scaled by the floor (scale.mode floor); the estimate is published."""
        if K is None:
            estimate = self.floor_scale.hold("no_camera_info")
        else:
            estimate = self.floor_scale.update(pred.depth, pred.normals, self.ground[pred.labels], K)
        self.last_scale = estimate
        self.scale_pub.publish(conv.floor_scale_to_msg(estimate, header))
        return dataclasses.replace(pred, depth=pred.depth * np.float32(estimate.scale))

    def _pinhole(self, frame: Frame, count_missing: bool):
        """(image, camera) for the network: rectified if the camera_info says it is distorted; camera
        None without a usable camera_info; image None if the frame is refused (counted, logged)."""
        h, w = frame.rgb.shape[:2]
        try:
            return self.camera.pinhole(self.camera.pair(conv.stamp_seconds(frame.header), w, h), frame.rgb)
        except CameraError as e:
            refused = e.reason in ("rejected_distorted", "rejected_distortion_model")
            if refused or count_missing:
                self.stats.count(e.reason)
                self._warn(e.reason, str(e))
            return (None if refused else frame.rgb), None

    # -- diagnostics --------------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        with self.stats.lock:
            counts = dict(self.stats.counts)
            lat = np.array(self.stats.latency_ms) if self.stats.latency_ms else np.zeros(1)
            net = np.array(self.stats.network_ms) if self.stats.network_ms else np.zeros(1)
            in_hz, out_hz = Stats.rate(self.stats.arrivals, now), Stats.rate(self.stats.departures, now)
        values = {
            "input_rate_hz": f"{in_hz:.2f}", "output_rate_hz": f"{out_hz:.2f}",
            "latency_p50_ms": f"{np.percentile(lat, 50):.1f}", "latency_p95_ms": f"{np.percentile(lat, 95):.1f}",
            "latency_max_ms": f"{lat.max():.1f}", "network_p50_ms": f"{np.percentile(net, 50):.1f}",
            "device": str(self.predictor.device), "backend": self.config.backend, "label_space": self.label_space.name,
        }  # fmt: skip
        for key in ("frames_in", "frames_out", "dropped", "idle", "errors"):
            values[key] = str(counts.get(key, 0))
        if (estimate := self.last_scale) is not None:
            values |= {"scale": f"{estimate.scale:.4f}", "scale_confidence": f"{estimate.confidence:.2f}",
                       "scale_reason": estimate.reason}  # fmt: skip
        values |= {
            k: str(v) for k, v in sorted(counts.items()) if k.startswith(("rejected_", "no_cloud_", "no_depth_"))
        }
        rejected = sum(v for k, v in counts.items() if k.startswith("rejected_"))
        status = DiagnosticStatus(
            level=DiagnosticStatus.WARN if rejected or counts.get("errors") else DiagnosticStatus.OK,
            name=f"{self.get_name()}: perception", hardware_id=str(self.predictor.device),
            message=f"{out_hz:.1f} Hz out, {counts.get('dropped', 0)} dropped, {rejected} rejected",
            values=[KeyValue(key=k, value=v) for k, v in values.items()],
        )  # fmt: skip
        self.diag_pub.publish(DiagnosticArray(header=conv.header_now(self), status=[status]))

    def destroy_node(self) -> None:
        self.running = False
        with self.slot_cond:
            self.slot_cond.notify_all()
        self.worker.join(timeout=1.0)  # at most the rest of one frame; it publishes nothing more
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    from m2h_ros.ros.runner import run_nodes

    run_nodes([PerceptionNode], args)


if __name__ == "__main__":
    main()
