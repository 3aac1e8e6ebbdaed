"""Replaying a bag over DDS to the nodes under evaluation, which run as on a robot (`m2h run
--scene-graph` in a subprocess, same DDS domain).

:class:`NodesUnderEvaluation` starts the nodes and a recorder node that publishes the bag's camera
topics and records what the nodes publish, by stamp. :func:`replay` publishes each bag time's
messages (camera_info, pose and /tf before the image) at the recorded rate times ``rate`` or, with
``rate`` 0, each image once the previous one has been answered, and hands the ground truth and the
answered frames to a :class:`~m2h_ros.eval.bag_scoring.FrameScorer`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import numpy as np

from m2h_ros.errors import ConfigError
from m2h_ros.eval.bag_scoring import SCORED_OUTPUTS, FrameScorer
from m2h_ros.ros.bag_reader import GT_TOPICS, ROLES, BagSource, msg_class


class Recorder:
    """The evaluation's own node: publishers of the bag's topics, subscribers of the nodes' outputs."""

    def __init__(self, topics: dict[str, str | None], namespace: str):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        from m2h_ros.msg import FloorScale, LabelSpace, SceneGraph

        if not rclpy.ok():
            rclpy.init()
        self.node = rclpy.create_node("m2h_bag_eval")
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)  # fmt: skip
        self.pubs = {topics[role]: self.node.create_publisher(msg_class(kind), topics[role], reliable)
                     for role, kind in ROLES.items() if topics[role]}  # fmt: skip
        self.lock = threading.Lock()
        self.outputs: dict[float, dict[str, np.ndarray]] = {}  # unscored frames' outputs, by stamp
        self.received: dict[float, float] = {}  # monotonic time each frame's depth arrived, by stamp
        self.scales: dict[float, float] = {}  # the node's floor scale of each frame (scale.mode floor), by stamp
        self.graphs: list = []
        self.label_space: str | None = None
        self.diagnostics: dict[str, dict] = {}
        self.output_subs = [self.node.create_subscription(Image, f"{namespace}/{name}", self._output(name), reliable)
                            for name in SCORED_OUTPUTS]  # fmt: skip
        self.node.create_subscription(SceneGraph, f"{namespace}/scene_graph", self.graphs.append, reliable)
        self.node.create_subscription(FloorScale, f"{namespace}/floor_scale", self._on_scale, reliable)
        self.node.create_subscription(LabelSpace, f"{namespace}/label_space", self._on_label_space, latched)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.camera_info_topic, self.scale_topic = topics["camera_info"], f"{namespace}/floor_scale"
        self.pose_topics = (topics["pose"], topics["tf"])
        self.expects_scale = False
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _output(self, name: str):
        from m2h_ros.ros.conversions import image_to_array, stamp_seconds

        def callback(msg) -> None:
            t = stamp_seconds(msg.header)
            arr = image_to_array(msg).copy()
            with self.lock:
                self.outputs.setdefault(t, {})[name] = arr
                if name == "depth":
                    self.received[t] = time.monotonic()

        return callback

    def _on_scale(self, msg) -> None:
        from m2h_ros.ros.conversions import stamp_seconds

        with self.lock:
            self.scales[stamp_seconds(msg.header)] = msg.scale

    def _on_label_space(self, msg) -> None:
        self.label_space = msg.name

    def _on_diagnostics(self, msg) -> None:
        for s in msg.status:
            self.diagnostics[s.name] = {kv.key: kv.value for kv in s.values}

    def ready(self, image_topic: str) -> bool:
        """The nodes are listening, publishing, and have told their label space. Matched endpoints, not
        the graph's: on a busy machine a publisher may be in the graph before its data reaches the other
        side, and a frame sent then would never be answered, nor a pose sent then ever used (its cloud
        would be dropped). The scene-graph node takes poses from the pose topic or from /tf, as it is
        configured: whichever of the two the bag has must reach it."""
        inputs = [self.pubs[t] for t in (image_topic, self.camera_info_topic) if t in self.pubs]
        poses = [self.pubs[t] for t in self.pose_topics if t in self.pubs]
        ready = (all(p.get_subscription_count() > 0 for p in inputs) and self.label_space is not None
                 and (not poses or any(p.get_subscription_count() > 0 for p in poses))
                 and all(s.get_publisher_count() > 0 for s in self.output_subs))  # fmt: skip
        self.expects_scale = self.node.count_publishers(self.scale_topic) > 0  # scale.mode floor
        return ready

    def answered(self, t: float) -> bool:
        with self.lock:
            return t in self.received or len(self.outputs.get(t, {})) == len(SCORED_OUTPUTS)

    def take_answered(self, ready: Callable[[float], bool]) -> list[tuple[float, dict[str, np.ndarray], float | None]]:
        """Remove and return the complete outputs of the frames for which ``ready(stamp)``, each with the
        floor scale the node applied to it (None without one)."""
        with self.lock:
            done = [t for t in sorted(self.outputs) if len(self.outputs[t]) == len(SCORED_OUTPUTS) and ready(t)
                    and (t in self.scales or not self.expects_scale)]  # fmt: skip
            return [(t, self.outputs.pop(t), self.scales.pop(t, None)) for t in done]

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown()


class NodesUnderEvaluation:
    """Context manager: the recorder and the nodes (a subprocess), started and ready; stopped on exit,
    after which ``exit_code``, ``output``, ``graphs``, ``diagnostics`` and ``label_space`` hold what they left."""

    def __init__(self, topics: dict[str, str | None], cfg):
        self.topics, self.cfg = topics, cfg
        self.exit_code: int | None = None
        self.output = ""

    def __enter__(self) -> NodesUnderEvaluation:
        self.rec = Recorder(self.topics, self.cfg.namespace)
        try:
            self.proc = subprocess.Popen(self._command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            end = time.monotonic() + self.cfg.start_timeout_s
            while not self.rec.ready(self.topics["image"]):
                if self.proc.poll() is not None or time.monotonic() > end:
                    self._stop()
                    raise ConfigError(f"the nodes did not start (exit {self.exit_code}):\n{self.output[-2000:]}")
                time.sleep(0.1)
        except BaseException:
            self.rec.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stop()
        self.graphs, self.diagnostics = list(self.rec.graphs), dict(self.rec.diagnostics)
        self.label_space = self.rec.label_space
        self.rec.close()

    def _command(self) -> list[str]:
        topics, cfg = self.topics, self.cfg
        cmd = [sys.executable, "-m", "m2h_ros.cli", "run", "--scene-graph", "--namespace", cfg.namespace,
               "--image", topics["image"], "--camera-info", topics["camera_info"] or "/camera/camera_info",
               "--pose", topics["pose"] or "/camera/pose"]  # fmt: skip
        for flag, value in (("--config", cfg.config), ("--weights", cfg.weights), ("--device", cfg.device)):
            if value:
                cmd += [flag, str(value)]
        return cmd

    def _stop(self) -> None:
        """SIGINT, wait (then kill), and keep the exit code and output; a second call does nothing."""
        if self.exit_code is not None or not hasattr(self, "proc"):
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self.exit_code, self.output = self.proc.returncode, out or ""


def replay(source: BagSource, nodes: NodesUnderEvaluation, scorer: FrameScorer, cfg, progress: bool = True,
           sheet_rows: int = 4) -> dict[float, float]:  # fmt: skip
    """Publish the bag to the nodes and score their answers; returns the monotonic send time of each
    image by stamp. ``sheet_rows`` frames, evenly spread, keep their input for the contact sheet."""
    from rclpy.serialization import deserialize_message
    from tqdm import tqdm

    from m2h_ros.ros.conversions import image_to_array, stamp_seconds

    rec, image_topic = nodes.rec, source.topics["image"]
    n = source.n_images
    sheet_at = set(np.linspace(0, max(n - 1, 0), min(sheet_rows, n)).round().astype(int).tolist())
    sent: dict[float, float] = {}
    bar = tqdm(total=n, desc="replaying", unit="frame", disable=not progress)
    t0_bag = t0_wall = None
    try:
        pending = []  # messages of one bag time: published together, the image last
        for topic, kind, t_ns, raw in source.messages():
            if pending and t_ns != pending[0][2]:
                bar.update(_publish(pending, image_topic, rec, scorer, sent, sheet_at, cfg))
                pending = []
            if topic in GT_TOPICS:
                msg = deserialize_message(raw, msg_class(kind))
                scorer.add_truth(stamp_seconds(msg.header), GT_TOPICS[topic], image_to_array(msg).copy())
                continue
            if cfg.rate > 0:
                t0_bag, t0_wall = (t_ns, time.monotonic()) if t0_bag is None else (t0_bag, t0_wall)
                delay = (t_ns - t0_bag) / 1e9 / cfg.rate - (time.monotonic() - t0_wall)
                if delay > 0:
                    time.sleep(delay)
            pending.append((topic, kind, t_ns, raw))
            _score(rec, scorer)
        if pending:
            bar.update(_publish(pending, image_topic, rec, scorer, sent, sheet_at, cfg))
    finally:
        bar.close()
    _wait_for(lambda: all(rec.answered(t) for t in sent), cfg.frame_timeout_s)
    _score(rec, scorer)
    if source.topics["camera_info"]:  # the graph after the last cloud: wait for one more update
        n_graphs = len(rec.graphs)
        _wait_for(lambda: len(rec.graphs) > n_graphs, 5.0)
    return sent


def _score(rec: Recorder, scorer: FrameScorer) -> None:
    for t, pred, scale in rec.take_answered(scorer.ready):
        scorer.score(t, pred, scale)


def _wait_for(condition: Callable[[], bool], timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < end:
        time.sleep(0.05)


def _publish(batch, image_topic: str, rec: Recorder, scorer: FrameScorer, sent: dict, sheet_at: set, cfg) -> int:
    """Publish one bag time's messages, the image last; with rate 0, wait for its answer. Returns the
    number of images published (0 or 1)."""
    from rclpy.serialization import deserialize_message

    from m2h_ros.ros.conversions import image_to_rgb8, stamp_seconds

    for topic, kind, _, raw in sorted(batch, key=lambda item: item[0] == image_topic):
        msg = deserialize_message(raw, msg_class(kind))
        if topic != image_topic:
            rec.pubs[topic].publish(msg)
            continue
        t = stamp_seconds(msg.header)
        if len(sent) in sheet_at:
            scorer.keep_rgb(t, image_to_rgb8(msg).copy())
        sent[t] = time.monotonic()
        rec.pubs[topic].publish(msg)
        if cfg.rate == 0:
            _wait_for(lambda t=t: rec.answered(t), cfg.frame_timeout_s)
        return 1
    return 0
