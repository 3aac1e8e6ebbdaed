"""The scene-graph node over real DDS: clouds + poses in, SceneGraph and markers out, saves and reload."""

import time

import numpy as np
import pytest

from m2h_ros.labels import SYNTHETIC

from .helpers import ANSWER_DEADLINE_S, Collector, finish, make_header, read_until, start_python, stop

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FLOOR, WALL, CHAIR = (SYNTHETIC.id(n) for n in ("floor", "wall", "chair"))


def room_cloud(rng):
    """A 6 m × 4 m room (camera-frame coordinates equal world ones: the pose is the identity) with a chair."""
    from m2h_ros.geometry.cloud import CLOUD_DTYPE

    floor = np.column_stack([rng.uniform(0, 6, 15000), rng.uniform(0, 4, 15000), np.zeros(15000)])
    s = rng.uniform(0, 1, 4000)
    walls = np.column_stack([6 * s, np.where(s < 0.5, 0.0, 4.0), rng.uniform(0, 2.5, 4000)])
    chair = rng.uniform([2, 2, 0], [2.4, 2.4, 0.9], (2000, 3))
    xyz = np.concatenate([floor, walls, chair])
    cloud = np.zeros(len(xyz), CLOUD_DTYPE)
    cloud["x"], cloud["y"], cloud["z"] = xyz.T
    cloud["label"] = np.concatenate([np.full(15000, FLOOR), np.full(4000, WALL), np.full(2000, CHAIR)])
    return cloud


def pose_at(t):
    from geometry_msgs.msg import PoseStamped

    msg = PoseStamped(header=make_header(t, "map"))
    msg.pose.orientation.w = 1.0
    return msg


def start_node(env, *params):
    args = ["--ros-args", "-p", "pose_source:=pose", "-p", "update_rate_hz:=4.0", "-p", "diagnostics_period_s:=0.5",
            "-p", "max_pose_wait_s:=0.3"]  # fmt: skip
    for p in params:
        args += ["-p", p]
    return start_python("m2h_ros.ros.scene_graph_node", *args, env=env, module=True)


def test_clouds_and_poses_in_scene_graph_out_saved_and_reloaded(ros_env, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from m2h_ros.msg import SceneGraph, SceneGraphNode
    from sensor_msgs.msg import PointCloud2
    from visualization_msgs.msg import MarkerArray

    from m2h_ros.ros.conversions import cloud_to_pointcloud2

    save = tmp_path / "graph.json"
    node = start_node(ros_env, f"save_path:={save}", "save_period_s:=0.5")
    c = Collector()
    rng = np.random.default_rng(0)
    try:
        c.subscribe("scene_graph", SceneGraph)
        c.subscribe("scene_graph_markers", MarkerArray)
        c.subscribe("/diagnostics", DiagnosticArray)
        clouds = c.node.create_publisher(PointCloud2, "points", 10)
        poses = c.node.create_publisher(PoseStamped, "pose", 10)

        def diag():
            values = [{kv.key: kv.value for kv in s.values} for m in c.messages["/diagnostics"] for s in m.status
                      if "scene graph" in s.name]  # fmt: skip
            return values[-1] if values else {}

        def has_graph():
            return any(
                sum(n.layer == SceneGraphNode.LAYER_OBJECTS for n in m.nodes) == 1
                and sum(n.layer == SceneGraphNode.LAYER_ROOMS for n in m.nodes) == 1
                for m in c.messages["scene_graph"]
            )  # fmt: skip

        # Sent until answered: the node may still be starting (imports) when the first clouds go out.
        end, i = time.monotonic() + ANSWER_DEADLINE_S, 0
        while time.monotonic() < end and node.poll() is None:
            t = 100.0 + 0.1 * i
            poses.publish(pose_at(t))
            clouds.publish(cloud_to_pointcloud2(room_cloud(rng), make_header(t)))
            if i % 4 == 3:  # clouds whose pose never comes
                clouds.publish(cloud_to_pointcloud2(room_cloud(rng), make_header(50.0 + i)))
            i += 1
            if c.spin_until(lambda: has_graph() and int(diag().get("dropped_no_pose", 0)) >= 1, 0.25, node):
                break
        assert has_graph(), stop(node)[1]
        graph = next(m for m in reversed(c.messages["scene_graph"]) if has_graph())
        assert graph.header.frame_id == "map" and list(graph.layer_ids) == [2, 3, 4, 5]
        chair = next(n for n in graph.nodes if n.layer == SceneGraphNode.LAYER_OBJECTS)
        assert chair.label_name == "chair" and chair.label_id == CHAIR
        assert abs(chair.position.x - 2.2) < 0.1 and abs(chair.bbox_size.z - 0.9) < 0.1
        room = next(n for n in graph.nodes if n.layer == SceneGraphNode.LAYER_ROOMS)
        assert chair.parent_room == room.id
        assert {e.relation for e in graph.edges} == {"contains", "adjacent"}
        assert c.messages["scene_graph_markers"] and int(diag()["dropped_no_pose"]) >= 1
        assert c.spin_until(save.is_file, 3.0)
    finally:
        c.close()
        code, out = stop(node)
    assert code == 0, out
    assert save.is_file() and save.with_suffix(".sparkdsg").is_file()
    node = start_node(ros_env, f"save_path:={save}")
    seen = read_until(node, "ready")
    stop(node)
    assert "reloaded 1 objects" in seen, seen


def test_bad_clouds_are_rejected_and_invalid_parameters_stop_the_node(ros_env):
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import PointCloud2, PointField

    node = start_node(ros_env)
    c = Collector()
    try:
        c.subscribe("/diagnostics", DiagnosticArray)
        clouds = c.node.create_publisher(PointCloud2, "points", 10)
        poses = c.node.create_publisher(PoseStamped, "pose", 10)
        xyz_only = PointCloud2(header=make_header(5.0), height=1, width=1, point_step=12, row_step=12,
                               fields=[PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                                       for i, n in enumerate("xyz")], data=bytes(12))  # fmt: skip

        def rejected():
            values = [{kv.key: kv.value for kv in s.values} for m in c.messages["/diagnostics"] for s in m.status]
            return int(values[-1].get("rejected_cloud_layout", 0)) if values else 0

        # Resent until counted: the node may still be starting (imports) when the first ones go out.
        end = time.monotonic() + ANSWER_DEADLINE_S
        while rejected() < 1 and time.monotonic() < end and node.poll() is None:
            poses.publish(pose_at(5.0))
            clouds.publish(xyz_only)
            c.spin_until(lambda: rejected() >= 1, 0.25, node)
        assert rejected() >= 1
        assert node.poll() is None  # still running
    finally:
        c.close()
        code, out = stop(node)
    assert code == 0 and "cloud rejected: expected fields" in out
    bad = start_node(ros_env, "pose_source:=gps")
    code, out = finish(bad)
    assert code == 2 and "'pose_source' must be auto, tf, pose or odometry" in out
