"""Layer 2: objects from the object-labelled voxels, as Hydra's mesh segmenter makes them.

Each update clusters the voxels of every object label by Euclidean distance (open3d's DBSCAN with
``min_points = 1`` is exactly Euclidean cluster extraction with tolerance ``eps``), drops clusters
smaller than ``min_voxels`` and fragments (below), and associates each cluster with an existing object
of the same label whose axis-aligned box contains the cluster's centroid or whose centroid the
cluster's box contains (Hydra's containment test, applied both ways), or whose box overlaps the
cluster's by more than half of the smaller box (a partial view that grew). Unmatched clusters become
candidates, confirmed as objects once they were found in ``min_observations`` updates; a candidate
missing from an update is forgotten (on learned depth most spurious clusters live for a few clouds,
until the space is seen through). Objects of one label that come to satisfy the same test are merged
(the older id survives). A confirmed object whose cluster is gone while it lies within the map's window
around the sensor is forgotten too (its space was seen through or relabelled); one whose voxels were
archived beyond the window stays in the graph, inactive, with its last geometry.

A fragment is a cluster of at most ``max_fragment_voxels`` whose voxels' mean label confidence (the
winning label's share of their evidence) is below ``fragment_confidence`` and that touches a larger
cluster of another object label: learned labels break one piece of furniture into its main part and
patches that flicker between classes from view to view, and each patch would otherwise become an
object. A small object consistently seen as itself (a box on a shelf) is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import open3d as o3d
from scipy.spatial import cKDTree


@dataclass
class SceneObject:
    id: int  # index of the spark_dsg NodeSymbol 'O'
    label: int
    centroid: np.ndarray  # (3,) metres
    bbox_min: np.ndarray
    bbox_max: np.ndarray
    num_voxels: int
    first_seen: float
    last_seen: float
    observations: int = 1
    active: bool = True
    voxels: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)), repr=False)  # (M, 3) centres

    def contains(self, p: np.ndarray, margin: float = 0.0) -> bool:
        return bool(np.all(p >= self.bbox_min - margin) and np.all(p <= self.bbox_max + margin))

    def same_as(self, centroid: np.ndarray, lo: np.ndarray, hi: np.ndarray, margin: float = 0.0,
                overlap: float = 0.5, vertical_gap: float = 0.35) -> bool:  # fmt: skip
        """Hydra's containment test applied both ways, extended to the parts of one piece of furniture:
        boxes that overlap by more than ``overlap`` of the smaller one, or whose footprints nest with less
        than ``vertical_gap`` between them (a table top over its pedestal)."""
        if self.contains(centroid, margin) or bool(np.all(self.centroid >= lo) and np.all(self.centroid <= hi)):
            return True
        extent = np.clip(np.minimum(hi, self.bbox_max) - np.maximum(lo, self.bbox_min), 0, None)
        smaller = min(np.prod(hi - lo), np.prod(self.bbox_max - self.bbox_min))
        if smaller > 0 and np.prod(extent) > overlap * smaller:
            return True
        footprint = min(np.prod(hi[:2] - lo[:2]), np.prod(self.bbox_max[:2] - self.bbox_min[:2]))
        gap = max(lo[2] - self.bbox_max[2], self.bbox_min[2] - hi[2])
        return bool(footprint > 0 and np.prod(extent[:2]) > overlap * footprint and gap < vertical_gap)


def euclidean_clusters(points: np.ndarray, tolerance: float) -> np.ndarray:
    """(N,) cluster index of each point; points closer than ``tolerance`` share a cluster."""
    if len(points) == 0:
        return np.zeros(0, np.int64)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
    return np.asarray(cloud.cluster_dbscan(eps=tolerance, min_points=1, print_progress=False), np.int64)


class ObjectTracker:
    def __init__(self, object_labels: set[int], tolerance: float, min_voxels: int, min_observations: int = 1,
                 window_radius: float = np.inf, margin: float = 0.05, max_fragment_voxels: int = 0,
                 fragment_confidence: float = 0.85):  # fmt: skip
        self.object_labels = set(object_labels)
        self.tolerance, self.min_voxels, self.margin = tolerance, min_voxels, margin
        self.max_fragment_voxels, self.fragment_confidence = max_fragment_voxels, fragment_confidence
        self.min_observations, self.window_radius = min_observations, window_radius
        self.objects: dict[int, SceneObject] = {}
        self.next_id = 0

    def update(self, centers: np.ndarray, labels: np.ndarray, stamp: float, sensor: np.ndarray | None = None,
               confidence: np.ndarray | None = None) -> dict[int, SceneObject]:  # fmt: skip
        """Re-cluster the map's voxels (centres (M, 3), labels (M,), label ``confidence`` (M,), unknown: 0)
        and update the objects; returns the confirmed ones. An object missing from the clusters is
        forgotten when it was a candidate or lies within ``window_radius`` of ``sensor`` (the map still
        holds that space), and archived otherwise."""
        matched: set[int] = set()
        for label, members in self.clusters(centers, labels, confidence):
            matched.add(self._associate(label, members, stamp, matched))
        for obj in list(self.objects.values()):
            if obj.id in matched:
                continue
            # Lost near the sensor: its space was seen through or relabelled, not archived.
            if obj.active and (obj.observations < self.min_observations or self._near(obj, sensor)):
                del self.objects[obj.id]
            elif obj.active:
                obj.active, obj.voxels = False, obj.voxels[:0]  # archived: keep the geometry, not the voxels
        self._merge_duplicates()
        return {i: o for i, o in self.objects.items() if o.observations >= self.min_observations}

    def clusters(self, centers: np.ndarray, labels: np.ndarray, confidence: np.ndarray | None = None
                 ) -> list[tuple[int, np.ndarray]]:  # fmt: skip
        """(label, member centres (K, 3)) of every object cluster of at least ``min_voxels`` that is not a
        fragment (see the module docstring)."""
        keep = np.isin(labels, sorted(self.object_labels))
        centers, labels = centers[keep], labels[keep]
        confidence = np.zeros(len(labels)) if confidence is None else confidence[keep]
        found = []  # (label, member indices)
        for label in np.unique(labels).tolist():
            idx = np.flatnonzero(labels == label)
            cluster = euclidean_clusters(centers[idx], self.tolerance)
            found += [(label, idx[cluster == c]) for c in range(cluster.max() + 1)]
        found = [(label, idx) for label, idx in found if len(idx) >= self.min_voxels]
        suspects = [i for i, (_, idx) in enumerate(found)
                    if len(idx) <= self.max_fragment_voxels and confidence[idx].mean() < self.fragment_confidence]  # fmt: skip
        if suspects:
            size = np.zeros(len(labels), np.int64)  # the size of each voxel's cluster
            for _, idx in found:
                size[idx] = len(idx)
            tree = cKDTree(centers)
            fragments = set()
            for i in suspects:
                label, idx = found[i]
                near = np.unique(np.concatenate(tree.query_ball_point(centers[idx], self.tolerance)))
                if np.any((labels[near] != label) & (size[near] > len(idx))):
                    fragments.add(i)
            found = [f for i, f in enumerate(found) if i not in fragments]
        return [(label, centers[idx]) for label, idx in found]

    def _near(self, obj: SceneObject, sensor: np.ndarray | None) -> bool:
        return sensor is not None and float(np.linalg.norm(obj.centroid - sensor)) < self.window_radius

    def _associate(self, label: int, members: np.ndarray, stamp: float, taken: set[int]) -> int:
        lo, hi = members.min(0), members.max(0)
        centroid = members.mean(0)
        candidates = [o for o in self.objects.values()
                      if o.label == label and o.id not in taken and o.same_as(centroid, lo, hi, self.margin)]  # fmt: skip
        if candidates:
            obj = min(candidates, key=lambda o: float(np.linalg.norm(o.centroid - centroid)))
            obj.observations += 1
        else:
            obj = SceneObject(self.next_id, label, centroid, lo, hi, len(members), stamp, stamp)
            self.objects[obj.id] = obj
            self.next_id += 1
        obj.centroid, obj.bbox_min, obj.bbox_max, obj.num_voxels = centroid, lo, hi, len(members)
        obj.voxels, obj.last_seen = members, stamp
        return obj.id

    def _merge_duplicates(self) -> None:
        ids = sorted(self.objects)
        for i, a in enumerate(ids):
            if a not in self.objects:
                continue
            for b in ids[i + 1 :]:
                if b not in self.objects:
                    continue
                oa, ob = self.objects[a], self.objects[b]
                if oa.label == ob.label and oa.same_as(ob.centroid, ob.bbox_min, ob.bbox_max):
                    self._absorb(oa, ob)
                    del self.objects[b]

    @staticmethod
    def _absorb(keep: SceneObject, other: SceneObject) -> None:
        """Merge ``other`` into ``keep``: the voxels of both when both are live, else the newer geometry."""
        voxels = np.unique(np.concatenate([keep.voxels, other.voxels]), axis=0)
        if len(voxels):
            keep.voxels, keep.centroid = voxels, voxels.mean(0)
            keep.bbox_min, keep.bbox_max, keep.num_voxels = voxels.min(0), voxels.max(0), len(voxels)
        keep.first_seen = min(keep.first_seen, other.first_seen)
        keep.last_seen = max(keep.last_seen, other.last_seen)
        keep.observations += other.observations
        keep.active = keep.active or other.active
