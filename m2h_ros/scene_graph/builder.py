"""Semantic clouds + poses -> layered scene graph: the ROS-free core of the scene-graph node.

``integrate`` is called per cloud (cheap: voxel and floor-grid updates); ``update`` builds the graph
(clustering, places, rooms) and is called at the graph rate. Object ids persist across updates; places
and rooms are re-derived from the floor grid each time, as Hydra's room finder does, so their indices
may change between updates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from m2h_ros.config import check
from m2h_ros.labels import get_label_space
from m2h_ros.scene_graph.graph import (
    ADJACENT,
    BUILDINGS,
    CONTAINS,
    OBJECTS,
    PLACES,
    ROOMS,
    Node,
    SceneGraph,
    node_id,
    node_index,
)
from m2h_ros.scene_graph.objects import ObjectTracker, SceneObject
from m2h_ros.scene_graph.places import FloorGrid, extract_places, segment_rooms
from m2h_ros.scene_graph.voxel_map import Occupancy, SemanticVoxelMap


@dataclass
class SceneGraphConfig:
    label_space: str = "synthetic"
    frame_id: str = "map"
    voxel_size_m: float = 0.05  # metres
    window_radius_m: float = 12.0  # voxels farther from the camera are archived (Hydra: 8; a home fits in 12)
    max_voxels: int = 1_000_000
    decay_s: float = 60.0  # evidence half-life ≈ 0.7 decay_s
    min_hits: int = 2  # observations before a voxel counts
    full_weight_range_m: float = 2.0  # beyond it a point's label evidence weighs (this / range)²
    free_space_margin_m: float = 0.1  # a voxel (or wall cell) this far in front of a later-seen surface was ...
    free_space_margin_rel: float = 0.1  # ... seen through, plus this share of that surface's range (depth error)
    object_tolerance_m: float = 0.16  # Euclidean clustering distance, metres (3 voxels: joins a smeared learned object)
    min_object_voxels: int = 20  # smaller clusters are mostly fragments of misplaced learned depth
    min_object_observations: int = 2  # updates a cluster must be found in before it is an object
    max_fragment_voxels: int = 100  # a cluster this small, touching a larger one of another object label ...
    fragment_confidence: float = 0.85  # ... whose labels agree less than this is a mislabelled part of it
    floor_cell_m: float = 0.1
    max_obstacle_height_m: float = 1.8  # above the floor; higher points never block places
    place_spacing_m: float = 0.5
    min_clearance_m: float = 0.2
    min_dilation_m: float = 0.2  # room filtration thresholds: metres of clearance from walls
    max_dilation_m: float = 0.8
    plateau_ratio: float = 0.15  # Hydra's PLATEAU mode: runs lasting less than this share of the longest are noise
    min_room_area_m2: float = 1.0  # square metres
    floor_z_m: float | None = None  # None: the median height of floor points seen so far

    def __post_init__(self) -> None:
        get_label_space(self.label_space)
        for key in ("voxel_size_m", "window_radius_m", "full_weight_range_m", "object_tolerance_m", "floor_cell_m",
                    "place_spacing_m"):  # fmt: skip
            check(getattr(self, key) > 0, key, f"must be > 0, got {getattr(self, key)}")
        check(self.min_dilation_m < self.max_dilation_m, "min_dilation_m", "must be below max_dilation")
        check(0 <= self.plateau_ratio <= 1, "plateau_ratio", f"must be within 0..1, got {self.plateau_ratio}")
        check(self.min_object_voxels >= 1, "min_object_voxels", "must be >= 1")
        check(self.min_object_observations >= 1, "min_object_observations", "must be >= 1")
        check(self.max_fragment_voxels >= 0, "max_fragment_voxels", "must be >= 0 (0: keep every cluster)")
        check(0 <= self.fragment_confidence <= 1, "fragment_confidence", "must be within 0..1")
        check(self.free_space_margin_m >= 0 and 0 <= self.free_space_margin_rel < 1, "free_space_margin_m",
              "must be >= 0 and free_space_margin_rel within [0, 1)")  # fmt: skip


class SceneGraphBuilder:
    def __init__(self, config: SceneGraphConfig | None = None):
        self.config = cfg = config or SceneGraphConfig()
        self.space = get_label_space(cfg.label_space)
        occupancy = Occupancy(margin_m=cfg.free_space_margin_m, margin_rel=cfg.free_space_margin_rel)
        self.map = SemanticVoxelMap(len(self.space), cfg.voxel_size_m, cfg.window_radius_m, cfg.max_voxels, cfg.decay_s,
                                    occupancy)  # fmt: skip
        self.objects = ObjectTracker(
            set(self.space.object_labels),
            cfg.object_tolerance_m,
            cfg.min_object_voxels,
            cfg.min_object_observations,
            cfg.window_radius_m,
            max_fragment_voxels=cfg.max_fragment_voxels,
            fragment_confidence=cfg.fragment_confidence,
        )
        self.grid = FloorGrid(cfg.floor_cell_m, cfg.max_obstacle_height_m, margin_m=cfg.free_space_margin_m,
                              margin_rel=cfg.free_space_margin_rel)  # fmt: skip
        self._floor = np.array(sorted(self.space.ground_labels), np.int64)
        self._skip = np.array([i for i, n in enumerate(self.space.names) if n == "ceiling"], np.int64)
        self._wall = np.array([i for i, n in enumerate(self.space.names) if n == "wall"], np.int64)
        self._floor_heights: list[float] = []
        self.clouds = 0
        self.sensor: np.ndarray | None = None  # the last cloud's

    @property
    def floor_z(self) -> float:
        if self.config.floor_z_m is not None:
            return self.config.floor_z_m
        return float(np.median(self._floor_heights)) if self._floor_heights else 0.0

    def integrate(self, points: np.ndarray, labels: np.ndarray, stamp: float, sensor: np.ndarray) -> None:
        """World-frame points (N, 3) with label ids (N,) seen from ``sensor`` (3,) at ``stamp`` seconds.
        The labels of points beyond ``full_weight_range_m`` count less: a far pixel covers more of the
        scene, and its depth is less certain."""
        cfg = self.config
        points = np.asarray(points, np.float64).reshape(-1, 3)
        labels = np.asarray(labels).reshape(-1)
        if len(points) != len(labels):
            raise ValueError(f"{len(points)} points but {len(labels)} labels")
        self.sensor = np.asarray(sensor, float)
        ranges = np.linalg.norm(points - self.sensor, axis=1)
        ok = np.isfinite(ranges) & (labels >= 0)
        points, labels, ranges = points[ok], labels[ok], ranges[ok]
        weights = np.minimum(1.0, (cfg.full_weight_range_m / np.maximum(ranges, 1e-6)) ** 2)
        self.map.integrate(points, labels, stamp, self.sensor, weights)
        floor = np.isin(labels, self._floor)
        if floor.any():
            self._floor_heights = [*self._floor_heights[-199:], float(np.median(points[floor, 2]))]
        self.grid.integrate(points, floor, np.isin(labels, self._wall), np.isin(labels, self._skip), self.floor_z,
                            self.sensor)  # fmt: skip
        self.clouds += 1

    def restore(self, graph: SceneGraph) -> None:
        """Take the objects of a saved graph (inactive, ids kept); places and rooms come back with new data."""
        for n in graph.layer(OBJECTS):
            index = node_index(n.id)
            self.objects.objects[index] = SceneObject(
                index, n.label, np.asarray(n.position), np.asarray(n.bbox_min), np.asarray(n.bbox_max), n.num_points,
                n.first_seen, n.last_seen, n.num_observations, active=False,
            )  # fmt: skip
        self.objects.next_id = max([self.objects.next_id, *(i + 1 for i in self.objects.objects)])

    def update(self, stamp: float) -> SceneGraph:
        """The scene graph from everything integrated so far."""
        cfg = self.config
        centers, labels, confidence = self.map.voxels(cfg.min_hits)
        objects = self.objects.update(centers, labels, stamp, self.sensor, confidence)
        raster = self.grid.raster()
        places = extract_places(raster, cfg.place_spacing_m, cfg.min_clearance_m)
        rooms = segment_rooms(
            raster, places, cfg.min_dilation_m, cfg.max_dilation_m, cfg.min_room_area_m2, cfg.plateau_ratio
        )
        graph = SceneGraph(frame_id=cfg.frame_id, stamp=stamp, label_space=self.space.name)
        z = self.floor_z
        building = graph.add(Node(node_id(BUILDINGS, 0), BUILDINGS, [0.0, 0.0, z], name="building", last_seen=stamp))
        room_ids = []
        for r in range(int(rooms.max()) + 1 if len(rooms) else 0):
            xy = places.positions[rooms == r]
            room = graph.add(Node(node_id(ROOMS, r), ROOMS, [*xy.mean(0), z + 1.5], name=f"room {r}",
                                  bbox_min=[*xy.min(0), z], bbox_max=[*xy.max(0), z + 2.5], num_points=len(xy),
                                  last_seen=stamp))  # fmt: skip
            graph.connect(building.id, room.id, CONTAINS)
            room_ids.append(room.id)
        if room_ids:
            building.position = list(np.mean([graph.nodes[r].position for r in room_ids], axis=0))
        place_ids = [node_id(PLACES, i) for i in range(len(places))]
        floor = min(self.space.surface_places_labels, default=-1)  # the surface the 2D places lie on
        for i, pid in enumerate(place_ids):
            graph.add(Node(pid, PLACES, [*places.positions[i], z], label=floor, clearance=float(places.clearance[i]),
                           last_seen=stamp))  # fmt: skip
            if rooms[i] >= 0:
                graph.connect(room_ids[rooms[i]], pid, CONTAINS)
        adjacent_rooms = set()
        for a, b in places.edges.tolist():
            graph.connect(place_ids[a], place_ids[b], ADJACENT)
            if rooms[a] >= 0 and rooms[b] >= 0 and rooms[a] != rooms[b]:
                adjacent_rooms.add((min(rooms[a], rooms[b]), max(rooms[a], rooms[b])))
        for a, b in sorted(adjacent_rooms):
            graph.connect(room_ids[a], room_ids[b], ADJACENT)
        for obj in objects.values():
            oid = node_id(OBJECTS, obj.id)
            graph.add(Node(oid, OBJECTS, obj.centroid.tolist(), label=obj.label, name=self.space.names[obj.label],
                           bbox_min=obj.bbox_min.tolist(), bbox_max=obj.bbox_max.tolist(), num_points=obj.num_voxels,
                           num_observations=obj.observations, first_seen=obj.first_seen, last_seen=obj.last_seen,
                           active=obj.active))  # fmt: skip
            if len(places):
                nearest = int(np.argmin(np.linalg.norm(places.positions - obj.centroid[:2], axis=1)))
                graph.connect(place_ids[nearest], oid, CONTAINS)
        return graph
