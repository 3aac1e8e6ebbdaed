"""Scene graph -> ROS messages: the package's SceneGraph message and a visualization MarkerArray.

Markers draw each layer at its own height above the floor (``layer_offset`` per layer, as Hydra's
visualizer does): object boxes in their label colours with names, place spheres, room spheres with
names, the building, and the edges as lines between the drawn positions.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from m2h_ros.labels import LabelSpace
from m2h_ros.ros.conversions import header_at
from m2h_ros.scene_graph.graph import BUILDINGS, LAYER_NAMES, OBJECTS, PLACES, ROOMS, Edge, Node, SceneGraph

_LAYER_COLOR = {PLACES: (0.2, 0.6, 1.0), ROOMS: (1.0, 0.6, 0.1), BUILDINGS: (0.5, 0.2, 0.8)}


def _time(seconds: float):
    return header_at(seconds).stamp


def scene_graph_to_msg(graph: SceneGraph, header: Header):
    from m2h_ros.msg import SceneGraph as SceneGraphMsg
    from m2h_ros.msg import SceneGraphEdge, SceneGraphNode

    room_of = graph.parents(ROOMS)
    # objects belong to the room of their place
    room_of |= {o: room_of[p] for o, p in graph.parents(PLACES).items() if p in room_of}
    nodes = []
    for n in graph.nodes.values():
        lo = np.asarray(n.bbox_min if n.bbox_min is not None else n.position, float)
        hi = np.asarray(n.bbox_max if n.bbox_max is not None else n.position, float)
        c = (lo + hi) / 2
        nodes.append(SceneGraphNode(
            id=n.id, layer=n.layer, label_id=n.label, label_name=n.name,
            position=Point(x=float(n.position[0]), y=float(n.position[1]), z=float(n.position[2])),
            bbox_center=Pose(position=Point(x=c[0], y=c[1], z=c[2]), orientation=Quaternion(w=1.0)),
            bbox_size=Vector3(x=hi[0] - lo[0], y=hi[1] - lo[1], z=hi[2] - lo[2]),
            num_points=n.num_points, num_observations=n.num_observations,
            first_seen=_time(n.first_seen), last_seen=_time(n.last_seen), parent_room=room_of.get(n.id, 0),
        ))  # fmt: skip
    edges = [SceneGraphEdge(source=e.source, target=e.target, relation=e.relation) for e in graph.edges]
    return SceneGraphMsg(header=header, layer_ids=list(LAYER_NAMES), layer_names=list(LAYER_NAMES.values()),
                         nodes=nodes, edges=edges)  # fmt: skip


def scene_graph_from_msg(msg, label_space: str = "") -> SceneGraph:
    """Inverse of :func:`scene_graph_to_msg` (boxes of objects and rooms; clearance is not carried)."""
    from m2h_ros.ros.conversions import stamp_seconds

    graph = SceneGraph(frame_id=msg.header.frame_id, stamp=stamp_seconds(msg.header), label_space=label_space)
    for n in msg.nodes:
        c, s = n.bbox_center.position, n.bbox_size
        boxed = n.layer in (OBJECTS, ROOMS)
        graph.add(Node(
            id=n.id, layer=n.layer, position=[n.position.x, n.position.y, n.position.z], label=n.label_id,
            name=n.label_name, bbox_min=[c.x - s.x / 2, c.y - s.y / 2, c.z - s.z / 2] if boxed else None,
            bbox_max=[c.x + s.x / 2, c.y + s.y / 2, c.z + s.z / 2] if boxed else None, num_points=n.num_points,
            num_observations=n.num_observations, first_seen=stamp_seconds(Header(stamp=n.first_seen)),
            last_seen=stamp_seconds(Header(stamp=n.last_seen)),
        ))  # fmt: skip
    graph.edges = [Edge(e.source, e.target, e.relation) for e in msg.edges]
    return graph


def _color(rgb, a: float = 1.0) -> ColorRGBA:
    return ColorRGBA(r=float(rgb[0]), g=float(rgb[1]), b=float(rgb[2]), a=a)


def scene_graph_markers(graph: SceneGraph, header: Header, space: LabelSpace, layer_offset: float = 3.0,
                        floor_z: float = 0.0) -> MarkerArray:  # fmt: skip
    """The graph as markers (see the module docstring); DELETEALL first, so stale nodes disappear."""
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    drawn = {}
    for n in graph.nodes.values():
        p = np.asarray(n.position, float)
        if n.layer != OBJECTS:
            p = np.array([p[0], p[1], floor_z + layer_offset * (n.layer - OBJECTS + 1)])
        drawn[n.id] = p

    def marker(ns: str, mid: int, kind: int, **kw) -> Marker:
        return Marker(header=header, ns=ns, id=mid, type=kind, action=Marker.ADD, lifetime=Duration(),
                      pose=Pose(orientation=Quaternion(w=1.0)), **kw)  # fmt: skip

    for i, n in enumerate(graph.layer(OBJECTS)):
        lo, hi = np.asarray(n.bbox_min), np.asarray(n.bbox_max)
        rgb = np.asarray(space.colors[n.label]) / 255 if 0 <= n.label < len(space) else (0.7, 0.7, 0.7)
        box = marker("objects", i, Marker.CUBE, scale=Vector3(**dict(zip("xyz", np.maximum(hi - lo, 0.02).tolist()))),
                     color=_color(rgb, 0.6 if n.active else 0.25))  # fmt: skip
        box.pose.position = Point(**dict(zip("xyz", ((lo + hi) / 2).tolist())))
        markers.append(box)
        text = marker("object_names", i, Marker.TEXT_VIEW_FACING, scale=Vector3(z=0.15), color=_color((1, 1, 1)),
                      text=n.name)  # fmt: skip
        text.pose.position = Point(x=float(lo[0] + hi[0]) / 2, y=float(lo[1] + hi[1]) / 2, z=float(hi[2]) + 0.15)
        markers.append(text)
    for layer, ns, size in ((PLACES, "places", 0.15), (ROOMS, "rooms", 0.5), (BUILDINGS, "building", 0.8)):
        nodes = graph.layer(layer)
        if not nodes:
            continue
        points = marker(ns, 0, Marker.SPHERE_LIST, scale=Vector3(x=size, y=size, z=size),
                        color=_color(_LAYER_COLOR[layer]))  # fmt: skip
        points.points = [Point(**dict(zip("xyz", drawn[n.id].tolist()))) for n in nodes]
        markers.append(points)
        if layer == ROOMS:
            for i, n in enumerate(nodes):
                text = marker("room_names", i, Marker.TEXT_VIEW_FACING, scale=Vector3(z=0.4), color=_color((1, 1, 1)),
                              text=n.name)  # fmt: skip
                text.pose.position = Point(**dict(zip("xyz", (drawn[n.id] + [0, 0, 0.6]).tolist())))
                markers.append(text)
    lines = marker("edges", 0, Marker.LINE_LIST, scale=Vector3(x=0.02), color=_color((0.8, 0.8, 0.8), 0.6))
    for e in graph.edges:
        if e.source in drawn and e.target in drawn:
            lines.points += [Point(**dict(zip("xyz", drawn[k].tolist()))) for k in (e.source, e.target)]
    markers.append(lines)
    return MarkerArray(markers=markers)
