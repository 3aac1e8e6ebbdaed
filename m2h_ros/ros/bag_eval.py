"""`m2h bag eval`: replay a rosbag2 through the perception and scene-graph nodes over DDS and measure.

The nodes run as they do on a robot (`m2h run --scene-graph` in a subprocess, same DDS domain). This
process publishes the bag's camera topics (camera_info, pose and /tf of a frame before its image), at
the recorded rate times ``rate`` or, with ``rate`` 0, each image once the previous one has been
answered; it records what the nodes publish and compares it with the bag's ground-truth topics
(``/gt/depth``, ``/gt/semantic``, ``/gt/normals``, ``/gt/edges``) and with ``scene.json`` beside the bag.
Metrics stream frame by frame; only the frames of the contact sheet are kept.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from m2h_ros import labels as label_spaces
from m2h_ros.config import default_config
from m2h_ros.eval.metrics import MultiTaskMeter
from m2h_ros.eval.report import SheetRow, contact_sheet, latency_histogram, scene_graph_plot, write_report

OUTPUTS = ("depth", "semantic", "normals", "edges")
GT_TOPICS = {"/gt/depth": "depth", "/gt/semantic": "semantic", "/gt/normals": "normals", "/gt/edges": "edges"}
TYPES = {
    "sensor_msgs/msg/Image": ("sensor_msgs.msg", "Image"),
    "sensor_msgs/msg/CameraInfo": ("sensor_msgs.msg", "CameraInfo"),
    "geometry_msgs/msg/PoseStamped": ("geometry_msgs.msg", "PoseStamped"),
    "tf2_msgs/msg/TFMessage": ("tf2_msgs.msg", "TFMessage"),
}


class BagError(ValueError):
    """The bag cannot be evaluated at all; the message says why."""


@dataclass
class BagEvalConfig:
    rate: float = 0.0  # multiple of the recorded rate; 0: each frame once the previous one is answered
    config: Path | None = None  # node parameter file (default: config/perception.yaml)
    weights: Path | None = None
    device: str | None = None
    namespace: str = "/m2h_eval"
    frame_timeout_s: float = 10.0
    start_timeout_s: float = 180.0
    sheet_rows: int = 4


def _msg_class(type_name: str):
    import importlib

    module, name = TYPES[type_name]
    return getattr(importlib.import_module(module), name)


def _open(bag: Path):
    from rosbags.highlevel import AnyReader

    if not bag.exists():
        raise BagError(f"{bag}: no such bag (a rosbag2 directory with metadata.yaml, or an .mcap/.db3 file)")
    try:
        reader = AnyReader([bag])
        reader.open()
    except Exception as e:  # rosbags raises several types for unreadable bags
        raise BagError(f"{bag}: cannot open the bag ({type(e).__name__}: {e})") from None
    return reader


def _topics(reader) -> dict[str, str | None]:
    by_type: dict[str, list[str]] = {}
    for c in reader.connections:
        by_type.setdefault(c.msgtype, []).append(c.topic)
    images = [t for t in by_type.get("sensor_msgs/msg/Image", []) if not t.startswith("/gt/")]
    if not images:
        raise BagError(f"no camera image topic (sensor_msgs/msg/Image outside /gt/); topics: "
                       f"{', '.join(sorted(c.topic for c in reader.connections))}")  # fmt: skip
    pick = lambda kind: (by_type.get(kind) or [None])[0]  # noqa: E731
    return {"image": "/camera/image_raw" if "/camera/image_raw" in images else images[0],
            "camera_info": pick("sensor_msgs/msg/CameraInfo"), "pose": pick("geometry_msgs/msg/PoseStamped"),
            "tf": "/tf" if "/tf" in by_type.get("tf2_msgs/msg/TFMessage", []) and _importable("tf2_msgs") else None}  # fmt: skip


def _importable(module: str) -> bool:
    """tf2_msgs is not on PyPI: in a venv /tf is not replayed (the scene-graph node takes the pose topic)."""
    import importlib.util

    return importlib.util.find_spec(module) is not None


class _Recorder:
    """The evaluation node: publishes the bag's topics, records the nodes' outputs by stamp."""

    def __init__(self, topics: dict, namespace: str):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        from m2h_ros.msg import LabelSpace, SceneGraph

        if not rclpy.ok():
            rclpy.init()
        self.node = rclpy.create_node("m2h_bag_eval")
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        kinds = {"image": "sensor_msgs/msg/Image", "camera_info": "sensor_msgs/msg/CameraInfo",
                 "pose": "geometry_msgs/msg/PoseStamped", "tf": "tf2_msgs/msg/TFMessage"}  # fmt: skip
        self.pubs = {topics[k]: self.node.create_publisher(_msg_class(kinds[k]), topics[k], reliable)
                     for k in kinds if topics[k]}  # fmt: skip
        self.lock = threading.Lock()
        self.outputs: dict[float, dict] = {}
        self.received: dict[float, float] = {}
        self.graphs: list = []
        self.label_space = None
        self.diagnostics: dict[str, dict] = {}
        for name in OUTPUTS:
            self.node.create_subscription(Image, f"{namespace}/{name}", self._output(name), reliable)
        self.node.create_subscription(SceneGraph, f"{namespace}/scene_graph", self.graphs.append, reliable)
        self.node.create_subscription(LabelSpace, f"{namespace}/label_space", self._on_label_space, latched)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.depth_sub_topic = f"{namespace}/depth"
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

    def _on_label_space(self, msg) -> None:
        self.label_space = msg.name

    def _on_diagnostics(self, msg) -> None:
        for s in msg.status:
            self.diagnostics[s.name] = {kv.key: kv.value for kv in s.values}

    def ready(self, image_topic: str) -> bool:
        return (self.pubs[image_topic].get_subscription_count() > 0
                and self.node.count_publishers(self.depth_sub_topic) > 0)  # fmt: skip

    def answered(self, t: float) -> bool:
        with self.lock:
            return len(self.outputs.get(t, {})) == len(OUTPUTS)

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown()


def _start_nodes(topics: dict, cfg: BagEvalConfig) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "m2h_ros.cli", "run", "--scene-graph", "--namespace", cfg.namespace,
           "--image", topics["image"], "--camera-info", topics["camera_info"] or "/camera/camera_info",
           "--pose", topics["pose"] or "/camera/pose"]  # fmt: skip
    for flag, value in (("--config", cfg.config), ("--weights", cfg.weights), ("--device", cfg.device)):
        if value:
            cmd += [flag, str(value)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(proc: subprocess.Popen) -> tuple[int, str]:
    """SIGINT, wait, and the exit code and output (the same on a second call)."""
    if not hasattr(proc, "output"):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        proc.output = out or ""
    return proc.returncode, proc.output


def evaluate_bag(bag: str | Path, out_dir: str | Path, cfg: BagEvalConfig | None = None,
                 progress: bool = True) -> dict:  # fmt: skip
    """Replay ``bag`` through the nodes, write the report into ``out_dir``; returns the report."""
    import json

    from rclpy.serialization import deserialize_message
    from tqdm import tqdm

    from m2h_ros.ros.conversions import image_to_array, stamp_seconds

    cfg = cfg or BagEvalConfig()
    bag, out_dir = Path(bag), Path(out_dir)
    reader = _open(bag)
    topics = _topics(reader)
    notes = []
    if not topics["camera_info"]:
        notes.append("the bag has no camera_info: images are evaluated, but there is no cloud and no scene graph")
    gt_conns = [c for c in reader.connections if c.topic in GT_TOPICS]
    if not gt_conns:
        notes.append("the bag has no ground-truth topics (/gt/*): timing and outputs only")
    truth_path = (bag if bag.is_dir() else bag.parent) / "scene.json"
    truth = json.loads(truth_path.read_text()) if truth_path.is_file() else None
    wanted = [c for c in reader.connections if c.topic in {*filter(None, topics.values()), *GT_TOPICS}]
    n_images = sum(c.msgcount for c in reader.connections if c.topic == topics["image"])
    sheet_at = set(np.linspace(0, max(n_images - 1, 0), min(cfg.sheet_rows, n_images)).round().astype(int).tolist())

    # The replay and the nodes share this machine. Through Fast DDS's default 0.5 MB shared-memory
    # segment, multi-MB images go as UDP fragments, and a lost fragment waits for the writer's next
    # heartbeat (3 s); the package's big-segment profile avoids that unless a profile is chosen already.
    os.environ.setdefault("FASTRTPS_DEFAULT_PROFILES_FILE", str(default_config("fastdds_shm_big.xml")))
    rec = _Recorder(topics, cfg.namespace)
    proc = None
    try:
        proc = _start_nodes(topics, cfg)
        end = time.monotonic() + cfg.start_timeout_s
        while not rec.ready(topics["image"]):
            if proc.poll() is not None or time.monotonic() > end:
                code, out = _stop(proc)
                raise BagError(f"the nodes did not start (exit {code}):\n{out[-2000:]}")
            time.sleep(0.1)
        gts: dict[float, dict] = {}
        sent: dict[float, float] = {}
        rgb_at: dict[float, np.ndarray] = {}
        meter: MultiTaskMeter | None = None
        gt_table = None
        rows: list[SheetRow] = []
        evaluated = 0

        def evaluate_ready() -> None:
            """Score every frame whose outputs and ground truth are both in."""
            nonlocal meter, gt_table, evaluated
            with rec.lock:  # unscored frames only: scored ones leave rec.outputs
                answered = [t for t in sorted(rec.outputs) if len(rec.outputs[t]) == len(OUTPUTS)]
            for t in answered:
                if gt_conns and t not in gts:
                    continue
                with rec.lock:
                    pred = rec.outputs.pop(t)
                if t not in gts:  # a bag without ground truth: its outputs are timed, not kept
                    continue
                if meter is None:  # the published label space is known once outputs arrive
                    space = label_spaces.get_label_space(rec.label_space or "synthetic")
                    gt_table = label_spaces.remap_table("synthetic", space)  # the synthetic world's ids
                    meter = MultiTaskMeter(len(space), [i for i in range(len(space)) if i not in space.invalid_labels])
                gt = gts.pop(t)
                gt_labels = label_spaces.remap(gt["semantic"], gt_table)
                meter.update(labels=pred["semantic"][None], depth=np.nan_to_num(pred["depth"])[None],
                             normals=np.moveaxis(pred["normals"], -1, 0)[None], edges=pred["edges"][None],
                             gt_semseg=gt_labels[None], gt_depth=np.nan_to_num(gt["depth"])[None],
                             gt_normals=np.moveaxis(np.nan_to_num(gt["normals"]), -1, 0)[None],
                             gt_edges=(gt["edges"] > 127).astype(np.uint8)[None])  # fmt: skip
                if t in rgb_at:
                    rows.append(SheetRow(rgb_at.pop(t), pred["depth"], pred["semantic"], pred["normals"], pred["edges"],
                                         gt["depth"], gt_labels))  # fmt: skip
                evaluated += 1

        bar = tqdm(total=n_images, desc="replaying", unit="frame", disable=not progress)
        t0_bag = t0_wall = None
        image_index = 0
        try:
            pending = []  # messages of one bag time: published together, the image last
            for conn, t_ns, raw in _messages(reader, wanted, notes):
                if pending and t_ns != pending[0][1]:
                    image_index = _publish(pending, topics, rec, cfg, sent, rgb_at, sheet_at, image_index, bar)
                    pending = []
                if conn.topic in GT_TOPICS:
                    msg = deserialize_message(raw, _msg_class(conn.msgtype))
                    gts.setdefault(stamp_seconds(msg.header), {})[GT_TOPICS[conn.topic]] = image_to_array(msg).copy()
                    continue
                if cfg.rate > 0:
                    t0_bag, t0_wall = (t_ns, time.monotonic()) if t0_bag is None else (t0_bag, t0_wall)
                    delay = (t_ns - t0_bag) / 1e9 / cfg.rate - (time.monotonic() - t0_wall)
                    if delay > 0:
                        time.sleep(delay)
                pending.append((conn, t_ns, raw))
                evaluate_ready()
            if pending:
                _publish(pending, topics, rec, cfg, sent, rgb_at, sheet_at, image_index, bar)
        finally:
            bar.close()
        end = time.monotonic() + cfg.frame_timeout_s
        while time.monotonic() < end and not all(rec.answered(t) or t in rec.received for t in sent):
            time.sleep(0.05)
        evaluate_ready()
        if topics["camera_info"]:  # the graph after the last cloud: wait for one more update
            n_graphs = len(rec.graphs)
            end = time.monotonic() + 5.0
            while time.monotonic() < end and len(rec.graphs) <= n_graphs:
                time.sleep(0.05)
    finally:
        code, node_output = _stop(proc) if proc is not None else (None, "")
        diagnostics = dict(rec.diagnostics)
        graphs = list(rec.graphs)
        label_space = rec.label_space
        rec.close()
        reader.close()

    latencies = [(rec.received[t] - sent[t]) * 1e3 for t in sent if t in rec.received]
    if not sent:
        raise BagError(f"{bag}: no image could be read from the bag")
    answered = len(latencies)
    span = (max(rec.received.values()) - min(sent.values())) if answered else 0.0
    timing = {
        "frames_sent": len(sent), "frames_answered": answered, "drop_rate": 1 - answered / len(sent),
        "throughput_hz": answered / span if span > 0 else 0.0,
        "latency_p50_ms": float(np.percentile(latencies, 50)) if latencies else float("nan"),
        "latency_p95_ms": float(np.percentile(latencies, 95)) if latencies else float("nan"),
        "latency_max_ms": float(max(latencies)) if latencies else float("nan"),
    }  # fmt: skip
    report = {"bag": str(bag), "weights": str(cfg.weights or "bundled"), "rate": cfg.rate, "topics": topics,
              "timing": timing, "notes": notes, "frames_evaluated": evaluated, "node_exit_code": code,
              "diagnostics": diagnostics, "label_space": label_space}  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    if latencies:
        latency_histogram(latencies, out_dir / "latency.png")
    space = label_spaces.get_label_space(label_space or "synthetic")
    if meter is not None and evaluated:
        report["metrics"] = meter.compute()
        contact_sheet(rows, space, out_dir / "contact_sheet.png")
    if graphs:
        from m2h_ros.eval.scene_graph import evaluate_rooms, match_objects
        from m2h_ros.ros.scene_graph_msgs import scene_graph_from_msg

        graph = scene_graph_from_msg(graphs[-1], space.name)
        graph.save(out_dir / "scene_graph.json")
        report["scene_graph"] = {"nodes": graph.counts()}
        if truth:
            observed = set(truth["observed_instances"]) if "observed_instances" in truth else None
            visited = set(truth["visited_rooms"]) if "visited_rooms" in truth else None
            objects = match_objects(graph, truth, observed)
            objects.pop("matches")
            report["scene_graph"] |= {"objects": objects, "rooms": evaluate_rooms(graph, truth, visited)}
        scene_graph_plot(graph, truth, space, out_dir / "scene_graph.png")
    (out_dir / "nodes.log").write_text(node_output)
    write_report(out_dir, report)
    return report


def _messages(reader, connections, notes: list[str]):
    """The bag's messages in time order; a truncated bag ends early with a note."""
    count = 0
    try:
        for conn, t_ns, raw in reader.messages(connections=connections):
            count += 1
            yield conn, t_ns, raw
    except Exception as e:  # rosbags raises several types for damaged data
        notes.append(f"the bag ends early (after {count} messages): {type(e).__name__}: {e}")


def _publish(batch, topics, rec: _Recorder, cfg: BagEvalConfig, sent, rgb_at, sheet_at, index: int, bar) -> int:
    """Publish one bag time's messages, the image last; with rate 0, wait for its answer."""
    from rclpy.serialization import deserialize_message

    from m2h_ros.ros.conversions import image_to_rgb8, stamp_seconds

    batch = sorted(batch, key=lambda item: item[0].topic == topics["image"])
    for conn, _, raw in batch:
        msg = deserialize_message(raw, _msg_class(conn.msgtype))
        if conn.topic != topics["image"]:
            rec.pubs[conn.topic].publish(msg)
            continue
        t = stamp_seconds(msg.header)
        if index in sheet_at:
            rgb_at[t] = image_to_rgb8(msg).copy()
        sent[t] = time.monotonic()
        rec.pubs[conn.topic].publish(msg)
        index += 1
        bar.update()
        if cfg.rate == 0:
            end = time.monotonic() + cfg.frame_timeout_s
            while not rec.answered(t) and time.monotonic() < end:
                time.sleep(0.005)
    return index
