"""The package's messages travel between processes over real DDS."""

import pytest

from .helpers import ANSWER_DEADLINE_S, Collector, start_python, stop

pytestmark = pytest.mark.ros

PUBLISHER = r"""
import rclpy
from m2h_ros.msg import SceneGraph, SceneGraphNode, SceneGraphEdge
rclpy.init()
node = rclpy.create_node("scene_graph_publisher")
pub = node.create_publisher(SceneGraph, "scene_graph", 10)
msg = SceneGraph()
msg.header.frame_id = "map"
msg.layer_ids, msg.layer_names = [2, 4], ["objects", "rooms"]
chair = SceneGraphNode(id=(ord("O") << 56) | 7, layer=SceneGraphNode.LAYER_OBJECTS, label_id=5, label_name="chair")
chair.position.x, chair.bbox_size.z, chair.num_observations = 1.5, 0.9, 12
room = SceneGraphNode(id=(ord("R") << 56) | 1, layer=SceneGraphNode.LAYER_ROOMS, label_id=-1, label_name="bedroom")
chair.parent_room = room.id
msg.nodes = [chair, room]
msg.edges = [SceneGraphEdge(source=room.id, target=chair.id, relation=SceneGraphEdge.CONTAINS)]
try:
    while rclpy.ok():
        msg.header.stamp = node.get_clock().now().to_msg()
        pub.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.1)
except KeyboardInterrupt:
    pass
"""


def test_scene_graph_crosses_processes(ros_env):
    from m2h_ros.msg import SceneGraph, SceneGraphEdge, SceneGraphNode

    proc = start_python(PUBLISHER, env=ros_env)
    collector = Collector()
    try:
        collector.subscribe("scene_graph", SceneGraph)
        got = collector.messages["scene_graph"]
        assert collector.spin_until(lambda: got, timeout=ANSWER_DEADLINE_S, proc=proc), stop(proc)[1]
    finally:
        collector.close()
        code, out = stop(proc)
    assert code == 0, out
    msg = got[0]
    assert msg.header.frame_id == "map"
    assert list(msg.layer_ids) == [2, 4] and list(msg.layer_names) == ["objects", "rooms"]
    chair, room = msg.nodes
    assert chair.layer == SceneGraphNode.LAYER_OBJECTS and chair.label_name == "chair"
    assert chair.id >> 56 == ord("O") and chair.id & 0xFF == 7
    assert chair.position.x == 1.5 and chair.bbox_size.z == pytest.approx(0.9)
    assert chair.parent_room == room.id != SceneGraphNode.NO_PARENT
    assert [(e.source, e.target, e.relation) for e in msg.edges] == [(room.id, chair.id, "contains")]
    assert SceneGraphEdge.CONTAINS == "contains"
    assert "Traceback" not in out, out


def test_label_space_message_fields():
    from m2h_ros.msg import LabelSpace
    from std_msgs.msg import ColorRGBA

    msg = LabelSpace(name="nyu20", ids=[0, 1], names=["unknown", "wall"], colors=[ColorRGBA(), ColorRGBA()])
    msg.object_labels, msg.dynamic_labels, msg.invalid_labels = [4], [19, 20], []
    assert list(msg.dynamic_labels) == [19, 20]
    assert msg.ids.typecode == "i"  # int32[] is stored as array('i')
