"""scene_graph_node: semantic clouds + camera poses in, a layered 3D scene graph out.

Topics (relative; remap or namespace them):

    in   points (sensor_msgs/PointCloud2 with x y z rgb label, as perception_node publishes)
         the camera pose at each cloud's stamp: from TF (``pose_source: tf``, needs tf2_ros) or from
         ``pose`` (geometry_msgs/PoseStamped, ``pose_source: pose``) or ``odometry``
         (nav_msgs/Odometry, ``pose_source: odometry``); ``auto`` picks TF when tf2_ros is installed
    out  scene_graph (m2h_ros/SceneGraph) and scene_graph_markers (visualization_msgs/MarkerArray) at
         ``update_rate_hz``; /diagnostics

A cloud whose pose is not known yet is held up to ``max_pose_wait_s``, then dropped and counted. With
``save_path`` the graph is saved atomically every ``save_period_s`` (our JSON schema, plus a spark_dsg
``.sparkdsg`` beside it with ``export_spark_dsg``) and its objects are reloaded on start.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import PointCloud2
from visualization_msgs.msg import MarkerArray

from m2h_ros.config import check
from m2h_ros.errors import DataError
from m2h_ros.ros import conversions as conv
from m2h_ros.ros.parameters import declare_config
from m2h_ros.ros.scene_graph_msgs import scene_graph_markers, scene_graph_to_msg
from m2h_ros.scene_graph.builder import SceneGraphBuilder, SceneGraphConfig
from m2h_ros.scene_graph.graph import SceneGraph


def _has_tf2() -> bool:
    try:
        import tf2_ros  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class SceneGraphNodeConfig:
    pose_source: str = "auto"  # auto | tf | pose | odometry
    world_frame: str = "map"
    pose_tolerance_s: float = 0.05  # pose topics: the nearest pose within this of the cloud's stamp
    max_pose_wait_s: float = 0.5
    update_rate_hz: float = 1.0
    save_path: str = ""  # our JSON schema; empty: no saves
    save_period_s: float = 10.0
    export_spark_dsg: bool = True  # also <save_path stem>.sparkdsg
    layer_offset_m: float = 3.0  # marker height between layers
    diagnostics_period_s: float = 1.0
    graph: SceneGraphConfig = field(default_factory=SceneGraphConfig)

    def __post_init__(self) -> None:
        check(self.pose_source in ("auto", "tf", "pose", "odometry"), "pose_source",
              f"must be auto, tf, pose or odometry, got {self.pose_source!r}")  # fmt: skip
        check(self.pose_source != "tf" or _has_tf2(), "pose_source",
              "is tf but tf2_ros is not installed (install ros-jazzy-tf2-ros, or use pose_source pose/odometry)")  # fmt: skip
        check(self.update_rate_hz > 0, "update_rate_hz", f"must be > 0, got {self.update_rate_hz}")
        check(self.max_pose_wait_s >= 0 and self.pose_tolerance_s >= 0, "max_pose_wait_s",
              "and pose_tolerance_s must be >= 0")  # fmt: skip
        check(not self.save_path or self.save_path.endswith(".json"), "save_path",
              f"must end in .json (our schema; spark_dsg files are written beside it), got {self.save_path!r}")  # fmt: skip


PARAMETERS = {
    "pose_source": ("where camera poses come from: auto, tf, pose (PoseStamped) or odometry", None, None),
    "world_frame": ("the fixed frame of the map and the graph", None, None),
    "pose_tolerance_s": ("largest stamp difference between a cloud and its pose (pose topics)", 0.0, 10.0),
    "max_pose_wait_s": ("how long a cloud waits for its pose before it is dropped", 0.0, 60.0),
    "update_rate_hz": ("scene graph updates (clustering, places, rooms) per second", 0.01, 100.0),
    "save_path": ("periodic atomic saves of the graph (.json); reloaded on start; empty: off", None, None),
    "save_period_s": ("seconds between saves", 0.1, 3600.0),
    "export_spark_dsg": ("also save a spark_dsg .sparkdsg beside save_path", None, None),
    "layer_offset_m": ("height between layers in the markers", 0.0, 100.0),
    "diagnostics_period_s": ("period of /diagnostics", 0.1, 60.0),
    "graph.label_space": ("label space of the cloud's label field", None, None),
    "graph.voxel_size_m": ("voxel size of the semantic map, m", 0.005, 1.0),
    "graph.window_radius_m": ("voxels farther than this from the camera are archived, m", 0.5, 1000.0),
    "graph.max_voxels": ("most voxels kept", 1000, 2**31 - 1),
    "graph.decay_s": ("time constant of the label evidence decay, s (0: none)", 0.0, 1e6),
    "graph.min_hits": ("observations before a voxel counts", 1, 1000),
    "graph.full_weight_range_m": ("beyond this range a point's label evidence weighs (this / range)², m", 0.01, 100.0),
    "graph.free_space_margin_m": ("a voxel or wall cell this far before a seen surface was seen through, m", 0.0, 10.0),
    "graph.free_space_margin_rel": ("plus this share of that surface's range", 0.0, 0.99),
    "graph.object_tolerance_m": ("Euclidean clustering distance of objects, m", 0.01, 2.0),
    "graph.min_object_voxels": ("smallest object, in voxels", 1, 100000),
    "graph.min_object_observations": ("graph updates a cluster must be found in before it is an object", 1, 1000),
    "graph.max_fragment_voxels": ("largest cluster that may be a mislabelled part of an object (0: none)", 0, 100000),
    "graph.fragment_confidence": ("such a cluster is one when its mean label confidence is below this", 0.0, 1.0),
    "graph.floor_cell_m": ("cell size of the floor grid, m", 0.01, 1.0),
    "graph.max_obstacle_height_m": ("points higher than this above the floor never block places, m", 0.1, 10.0),
    "graph.place_spacing_m": ("distance between places, m", 0.1, 10.0),
    "graph.min_clearance_m": ("least clearance of a place, m", 0.0, 10.0),
    "graph.min_dilation_m": ("room filtration: smallest wall clearance tried, m", 0.0, 10.0),
    "graph.max_dilation_m": ("room filtration: largest wall clearance tried, m", 0.0, 10.0),
    "graph.plateau_ratio": ("room filtration: shortest count plateau considered, share of the longest", 0.0, 1.0),
    "graph.min_room_area_m2": ("smallest room, m²", 0.0, 1000.0),
    "graph.floor_z_m": ("floor height in the world frame; empty: estimated from floor points", None, None),
}


def _median_ms(times: collections.deque) -> str:
    return f"{np.percentile(times, 50):.1f}" if times else "0.0"


@dataclass
class PendingCloud:
    msg: PointCloud2
    received: float


class SceneGraphNode(Node):
    def __init__(self, **kwargs):
        super().__init__("scene_graph_node", **kwargs)
        self.config = cfg = declare_config(self, SceneGraphNodeConfig, PARAMETERS)
        self.builder = SceneGraphBuilder(cfg.graph)
        self.lock = threading.Lock()
        self.counts: collections.Counter = collections.Counter()
        self.update_ms: collections.deque = collections.deque(maxlen=100)
        self.integrate_ms: collections.deque = collections.deque(maxlen=100)
        self.pending: collections.deque = collections.deque(maxlen=100)
        self.poses: collections.deque = collections.deque(maxlen=2000)  # (stamp, 4×4 camera-to-world)
        self.graph = SceneGraph(frame_id=cfg.world_frame, label_space=cfg.graph.label_space)
        self.last_save = time.monotonic()
        self.last_stamp = 0.0
        source = cfg.pose_source if cfg.pose_source != "auto" else ("tf" if _has_tf2() else "pose")
        self.pose_source = source
        if source == "tf":
            import tf2_ros

            self.tf_buffer = tf2_ros.Buffer()
            self.tf_listener = tf2_ros.TransformListener(self.tf_buffer, self)
        elif source == "pose":
            self.create_subscription(PoseStamped, "pose", lambda m: self._on_pose(m.header, m.pose), 50)
        else:
            self.create_subscription(Odometry, "odometry", lambda m: self._on_pose(m.header, m.pose.pose), 50)
        self._reload()
        reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        from m2h_ros.msg import SceneGraph as SceneGraphMsg

        self.graph_pub = self.create_publisher(SceneGraphMsg, "scene_graph", reliable)
        self.marker_pub = self.create_publisher(MarkerArray, "scene_graph_markers", reliable)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(PointCloud2, "points", self._on_cloud, reliable)
        self.create_timer(1.0 / cfg.update_rate_hz, self._update)
        self.create_timer(cfg.diagnostics_period_s, self._publish_diagnostics)
        self.create_timer(0.05, self._drain)
        self.get_logger().info(f"ready: poses from {source}, map in {cfg.world_frame}, labels in "
                               f"{cfg.graph.label_space}, graph at {cfg.update_rate_hz} Hz")  # fmt: skip

    # -- poses --------------------------------------------------------------------------------------
    def _on_pose(self, header, pose) -> None:
        if header.frame_id and header.frame_id != self.config.world_frame:
            self._count("rejected_pose_frame")
            return
        q, p = pose.orientation, pose.position
        T = np.eye(4)
        T[:3, :3] = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
        T[:3, 3] = (p.x, p.y, p.z)
        with self.lock:
            self.poses.append((conv.stamp_seconds(header), T))

    def _pose_at(self, msg: PointCloud2) -> np.ndarray | None:
        """Camera-to-world at the cloud's stamp; None while it may still arrive."""
        stamp = conv.stamp_seconds(msg.header)
        if self.pose_source == "tf":
            import tf2_ros

            try:
                t = self.tf_buffer.lookup_transform(self.config.world_frame, msg.header.frame_id, msg.header.stamp)
            except (tf2_ros.LookupException, tf2_ros.ExtrapolationException, tf2_ros.ConnectivityException):
                return None
            r, p = t.transform.rotation, t.transform.translation
            T = np.eye(4)
            T[:3, :3] = Rotation.from_quat([r.x, r.y, r.z, r.w]).as_matrix()
            T[:3, 3] = (p.x, p.y, p.z)
            return T
        with self.lock:
            poses = list(self.poses)
        if not poses:
            return None
        gap, T = min(((abs(s - stamp), T) for s, T in poses), key=lambda pair: pair[0])
        return T if gap <= self.config.pose_tolerance_s else None

    # -- clouds -------------------------------------------------------------------------------------
    def _count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n

    def _on_cloud(self, msg: PointCloud2) -> None:
        self._count("clouds_in")
        self.pending.append(PendingCloud(msg, time.monotonic()))
        self._drain()

    def _drain(self) -> None:
        """Integrate the held clouds whose pose is known; drop those that waited too long."""
        for item in list(self.pending):
            T = self._pose_at(item.msg)
            if T is None:
                if time.monotonic() - item.received > self.config.max_pose_wait_s:
                    self.pending.remove(item)
                    self._count("dropped_no_pose")
                    self.get_logger().warning(
                        f"no pose for the cloud at {conv.stamp_seconds(item.msg.header):.3f} s within "
                        f"{self.config.max_pose_wait_s} s: dropped (counted as dropped_no_pose)",
                        throttle_duration_sec=5.0,
                    )  # fmt: skip
                continue
            self.pending.remove(item)
            self._integrate(item.msg, T)

    def _integrate(self, msg: PointCloud2, T: np.ndarray) -> None:
        try:
            cloud = conv.pointcloud2_to_cloud(msg)
        except DataError as e:
            self._count("rejected_cloud_layout")
            self.get_logger().warning(f"cloud rejected: {e}", throttle_duration_sec=5.0)
            return
        xyz = np.stack([cloud["x"], cloud["y"], cloud["z"]], axis=1).astype(np.float64)
        t0 = time.perf_counter()
        with self.lock:
            self.builder.integrate(xyz @ T[:3, :3].T + T[:3, 3], cloud["label"], conv.stamp_seconds(msg.header),
                                   T[:3, 3])  # fmt: skip
            self.counts["clouds_integrated"] += 1
            self.last_stamp = conv.stamp_seconds(msg.header)
        self.integrate_ms.append((time.perf_counter() - t0) * 1e3)

    # -- graph --------------------------------------------------------------------------------------
    def _update(self) -> None:
        if not self.counts.get("clouds_integrated"):
            return
        t0 = time.perf_counter()
        with self.lock:
            self.graph = self.builder.update(self.last_stamp)
            floor_z = self.builder.floor_z
        self.update_ms.append((time.perf_counter() - t0) * 1e3)
        header = conv.header_at(self.graph.stamp, self.config.world_frame)
        self.graph_pub.publish(scene_graph_to_msg(self.graph, header))
        self.marker_pub.publish(scene_graph_markers(self.graph, header, self.builder.space,
                                                    self.config.layer_offset_m, floor_z))  # fmt: skip
        if self.config.save_path and time.monotonic() - self.last_save >= self.config.save_period_s:
            self.save()

    def save(self) -> None:
        path = Path(self.config.save_path).expanduser()
        self.graph.save(path)
        if self.config.export_spark_dsg:
            self.graph.save(path.with_suffix(".sparkdsg"), list(self.builder.space.names))
        self.last_save = time.monotonic()
        self._count("saves")

    def _reload(self) -> None:
        path = Path(self.config.save_path).expanduser() if self.config.save_path else None
        if path is None or not path.is_file():
            return
        try:
            graph = SceneGraph.load(path)
        except DataError as e:
            self.get_logger().warning(f"not reloading {path}: {e}")
            return
        self.builder.restore(graph)
        self.graph = graph
        self.get_logger().info(f"reloaded {len(self.builder.objects.objects)} objects from {path}")

    # -- diagnostics --------------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        with self.lock:
            counts = dict(self.counts)
            layers = self.graph.counts()
            voxels = len(self.builder.map)
        values = {**{k: str(v) for k, v in sorted(counts.items())}, **{k: str(v) for k, v in layers.items()},
                  "voxels": str(voxels), "pending_clouds": str(len(self.pending)), "pose_source": self.pose_source,
                  "update_p50_ms": _median_ms(self.update_ms),
                  "integrate_p50_ms": _median_ms(self.integrate_ms)}  # fmt: skip
        dropped = counts.get("dropped_no_pose", 0) + sum(v for k, v in counts.items() if k.startswith("rejected_"))
        status = DiagnosticStatus(
            level=DiagnosticStatus.WARN if dropped else DiagnosticStatus.OK, name=f"{self.get_name()}: scene graph",
            message=f"{layers['objects']} objects, {layers['rooms']} rooms, {dropped} clouds dropped or rejected",
            values=[KeyValue(key=k, value=v) for k, v in values.items()],
        )  # fmt: skip
        self.diag_pub.publish(DiagnosticArray(header=conv.header_now(self), status=[status]))

    def destroy_node(self) -> None:
        if self.config.save_path and self.counts.get("clouds_integrated"):
            self.save()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    from m2h_ros.ros.runner import run_nodes

    run_nodes([SceneGraphNode], args)


if __name__ == "__main__":
    main()
