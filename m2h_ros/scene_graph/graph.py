"""The layered scene graph as plain data, its own JSON schema, spark_dsg export and atomic saves.

Layers and ids follow spark_dsg / Hydra: objects (2, 'O'), places (3, 'p'), rooms (4, 'R'), building
(5, 'B'); a node id is a NodeSymbol, the category character in the top byte over the index. Edges go
parent -> child between layers (building -> room -> place -> object, relation ``contains``) and join
nodes within a layer (place <-> place, room <-> room, relation ``adjacent``).

JSON schema (``format: m2h_ros.scene_graph/1``)::

    {"format": ..., "frame_id": "map", "stamp": s, "label_space": "synthetic",
     "nodes": [{"id", "layer", "symbol": "O3", "label": int (-1: none), "name", "position": [x, y, z],
                "bbox_min", "bbox_max" (objects and rooms), "clearance" (places), "num_points",
                "num_observations", "first_seen", "last_seen", "active"}],
     "edges": [{"source", "target", "relation"}]}
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from m2h_ros.errors import DataError

OBJECTS, PLACES, ROOMS, BUILDINGS = 2, 3, 4, 5
# spark_dsg partitions: the floor-grid places are 2D places, which Hydra keeps in layer 3, partition 1
# (DsgLayers::MESH_PLACES); its labels apply to the objects and those places.
PARTITION = {PLACES: 1}
LABELLED_LAYERS = ((OBJECTS, 0), (PLACES, 1))
# Hydra's backend labels: rooms 0 (uncategorised), the building 22 (its default building label).
HYDRA_LABEL = {ROOMS: 0, BUILDINGS: 22}
LAYER_NAMES = {OBJECTS: "OBJECTS", PLACES: "PLACES", ROOMS: "ROOMS", BUILDINGS: "BUILDINGS"}
PREFIX = {OBJECTS: "O", PLACES: "p", ROOMS: "R", BUILDINGS: "B"}
FORMAT = "m2h_ros.scene_graph/1"
CONTAINS, ADJACENT = "contains", "adjacent"


def node_id(layer: int, index: int) -> int:
    """The spark_dsg NodeSymbol of node ``index`` of ``layer``."""
    return (ord(PREFIX[layer]) << 56) | index


def node_index(nid: int) -> int:
    """The index part of a NodeSymbol (below the category character)."""
    return nid & ((1 << 56) - 1)


def symbol(nid: int) -> str:
    return f"{chr(nid >> 56)}{node_index(nid)}"


@dataclass
class Node:
    id: int
    layer: int
    position: list[float]
    label: int = -1
    name: str = ""
    bbox_min: list[float] | None = None
    bbox_max: list[float] | None = None
    clearance: float | None = None
    num_points: int = 0
    num_observations: int = 0
    first_seen: float = 0.0
    last_seen: float = 0.0
    active: bool = True


@dataclass
class Edge:
    source: int
    target: int
    relation: str


@dataclass
class SceneGraph:
    nodes: dict[int, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    frame_id: str = "map"
    stamp: float = 0.0
    label_space: str = ""

    def add(self, node: Node) -> Node:
        self.nodes[node.id] = node
        return node

    def connect(self, source: int, target: int, relation: str) -> None:
        if relation == ADJACENT and source > target:
            source, target = target, source
        self.edges.append(Edge(source, target, relation))

    def layer(self, layer: int) -> list[Node]:
        return [n for n in self.nodes.values() if n.layer == layer]

    def parent(self, nid: int) -> int | None:
        """The node that ``contains`` ``nid``, if any."""
        return next((e.source for e in self.edges if e.relation == CONTAINS and e.target == nid), None)

    def parents(self, layer: int) -> dict[int, int]:
        """child id -> id of the node of ``layer`` that contains it (e.g. ROOMS: place -> room)."""
        return {e.target: e.source for e in self.edges if e.relation == CONTAINS and e.target in self.nodes
                and e.source in self.nodes and self.nodes[e.source].layer == layer}  # fmt: skip

    def counts(self) -> dict[str, int]:
        """Nodes per layer, by layer name: objects, places, rooms, buildings."""
        return {name.lower(): len(self.layer(layer)) for layer, name in LAYER_NAMES.items()}

    # --- our JSON schema
    def to_json(self) -> dict:
        nodes = []
        for n in sorted(self.nodes.values(), key=lambda n: n.id):
            d = {k: v for k, v in asdict(n).items() if v is not None}
            nodes.append({**d, "symbol": symbol(n.id)})
        return {"format": FORMAT, "frame_id": self.frame_id, "stamp": self.stamp, "label_space": self.label_space,
                "nodes": nodes, "edges": [asdict(e) for e in self.edges]}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> SceneGraph:
        if data.get("format") != FORMAT:
            raise DataError(f"not a scene graph of format {FORMAT!r} (format: {data.get('format')!r})")
        graph = cls(frame_id=data["frame_id"], stamp=data["stamp"], label_space=data.get("label_space", ""))
        for d in data["nodes"]:
            graph.add(Node(**{k: v for k, v in d.items() if k != "symbol"}))
        graph.edges = [Edge(**e) for e in data["edges"]]
        return graph

    # --- spark_dsg
    def to_spark_dsg(self, label_names: list[str] | None = None):
        """A ``spark_dsg.DynamicSceneGraph`` with the same nodes, attributes and edges, in Hydra's layers
        and partitions, with its labels for rooms and the building."""
        import spark_dsg as dsg

        graph = (getattr(dsg, "SceneGraph", None) or dsg.DynamicSceneGraph)()
        kinds = {OBJECTS: dsg.ObjectNodeAttributes, PLACES: dsg.PlaceNodeAttributes, ROOMS: dsg.RoomNodeAttributes,
                 BUILDINGS: dsg.SemanticNodeAttributes}  # fmt: skip
        for n in self.nodes.values():
            attrs = kinds[n.layer]()
            attrs.position = np.asarray(n.position, float)
            attrs.name = n.name or symbol(n.id)
            attrs.is_active = n.active
            attrs.last_update_time_ns = int((n.last_seen or self.stamp) * 1e9)
            if n.label >= 0 or n.layer in HYDRA_LABEL:
                attrs.semantic_label = n.label if n.label >= 0 else HYDRA_LABEL[n.layer]
            if n.bbox_min is not None:
                lo, hi = np.asarray(n.bbox_min), np.asarray(n.bbox_max)
                attrs.bounding_box = dsg.BoundingBox(hi - lo, (lo + hi) / 2)
            if n.clearance is not None:
                attrs.distance = n.clearance
            graph.add_node(n.layer, n.id, attrs, PARTITION.get(n.layer, 0))
        for e in self.edges:
            graph.insert_edge(e.source, e.target)
        if label_names:  # keyed by layer and partition, where Hydra and spark_dsg's viewer look it up
            for layer, partition in LABELLED_LAYERS:
                graph.set_labelspace(dsg.Labelspace(dict(enumerate(label_names))), layer, partition)
        return graph

    def save(self, path: str | Path, label_names: list[str] | None = None) -> Path:
        """Write atomically: ``.json`` in our schema, ``.dsg.json`` as spark_dsg JSON, ``.sparkdsg``
        as spark_dsg binary. A crash during a save leaves the previous file intact."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        name = path.name
        if name.endswith(".sparkdsg") or name.endswith(".dsg.json"):
            # spark_dsg chooses the format by extension, so the temporary file keeps it
            tmp = path.with_name(f".tmp.{name}")
            self.to_spark_dsg(label_names).save(str(tmp))
        elif name.endswith(".json"):
            with open(tmp, "w") as f:
                json.dump(self.to_json(), f)
                f.flush()
                os.fsync(f.fileno())
        else:
            raise DataError(f"{path}: unknown scene graph format; use .json, .dsg.json or .sparkdsg")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SceneGraph:
        """Read a graph saved in our JSON schema."""
        path = Path(path)
        try:
            return cls.from_json(json.loads(path.read_text()))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DataError(f"{path}: not a readable scene graph ({e})") from None
