"""Scene-graph evaluation against the synthetic world's ground truth (``scene.json``).

Objects: an estimated object matches a ground-truth object of the same class whose centroid lies within
``radius`` metres (default 0.5 m, about the size of the furniture); matching is one-to-one, closest
pairs first. Precision = matches / estimated objects; recall = matches / ground-truth objects that were
*observed* (at least ``min_pixels`` pixels in some frame: objects the camera never saw cannot be found);
mean centroid error over the matches.

Rooms: the room count against the ground-truth rooms the camera visited, and room-assignment accuracy:
each estimated room takes the ground-truth room holding most of its places; accuracy is the share of
places whose estimated room maps to the ground-truth room they lie in. Room precision and recall by
overlap, in the manner of Hydra's room evaluation, with the places as samples of the mapped floor: an
estimated room's precision is the largest share of its places inside one ground-truth room polygon; a
visited ground-truth room's recall is the largest share of the places inside it that one estimated
room holds; each is averaged over the rooms (0 when there are none).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from m2h_ros.labels import SYNTHETIC, get_label_space, remap_table
from m2h_ros.scene_graph.graph import OBJECTS, PLACES, ROOMS, SceneGraph


def observed_instances(instance_images, min_pixels: int = 200) -> set[int]:
    """Instance ids seen with at least ``min_pixels`` pixels in some frame."""
    seen: set[int] = set()
    for inst in instance_images:
        ids, counts = np.unique(np.asarray(inst), return_counts=True)
        seen.update(int(i) for i, c in zip(ids, counts) if i > 0 and c >= min_pixels)
    return seen


def match_objects(graph: SceneGraph, ground_truth: dict, observed: set[int] | None = None, radius: float = 0.5,
                  classes: set[str] | None = None) -> dict:  # fmt: skip
    """Object precision / recall / centroid error (see the module docstring). ``classes``: evaluate only
    these class names (default: the graph label space's object classes)."""
    space = get_label_space(graph.label_space or "synthetic")
    # ground-truth classes are synthetic; compare in the graph's label space
    to_space = remap_table(SYNTHETIC, space)
    classes = classes or {space.names[i] for i in space.object_labels}
    gt = []
    for o in ground_truth["objects"]:
        cls = to_space[o["cls_id"]]
        if cls >= 0 and space.names[cls] in classes and (observed is None or o["inst"] in observed):
            gt.append((int(cls), np.asarray(o["centroid"], float), o["inst"]))
    est = [(n.label, np.asarray(n.position, float), n.id) for n in graph.layer(OBJECTS)
           if n.label >= 0 and space.names[n.label] in classes]  # fmt: skip
    pairs = sorted(
        (float(np.linalg.norm(e[1] - g[1])), i, j)
        for i, e in enumerate(est) for j, g in enumerate(gt) if e[0] == g[0]
    )  # fmt: skip
    used_e, used_g, errors, matches = set(), set(), [], []
    for d, i, j in pairs:
        if d <= radius and i not in used_e and j not in used_g:
            used_e.add(i)
            used_g.add(j)
            errors.append(d)
            matches.append((est[i][2], gt[j][2]))
    return {
        "estimated": len(est), "ground_truth": len(gt), "matched": len(matches),
        "precision": len(matches) / len(est) if est else 0.0, "recall": len(matches) / len(gt) if gt else 0.0,
        "centroid_error_m": float(np.mean(errors)) if errors else float("nan"), "radius_m": radius,
        "matches": matches,
    }  # fmt: skip


def _room_of(xy: np.ndarray, rooms: list[dict]) -> int:
    for r in rooms:
        p = np.asarray(r["polygon"])
        lo, hi = p.min(0), p.max(0)  # synthetic rooms are axis-aligned rectangles
        if np.all(xy >= lo) and np.all(xy <= hi):
            return int(r["id"])
    return -1


def evaluate_rooms(graph: SceneGraph, ground_truth: dict, visited: set[int] | None = None) -> dict:
    """Room count and room-assignment accuracy of the places (see the module docstring)."""
    gt_rooms = [r for r in ground_truth["rooms"] if visited is None or r["id"] in visited]
    est_rooms = graph.layer(ROOMS)
    place_room = {p: r for p, r in graph.parents(ROOMS).items() if graph.nodes[p].layer == PLACES}
    truth = {pid: _room_of(np.asarray(graph.nodes[pid].position[:2]), ground_truth["rooms"]) for pid in place_room}
    majority = {}
    for rid in {n.id for n in est_rooms}:
        votes = Counter(truth[p] for p, r in place_room.items() if r == rid and truth[p] >= 0)
        majority[rid] = votes.most_common(1)[0][0] if votes else -1
    correct = sum(majority[r] == truth[p] for p, r in place_room.items())
    all_places = {n.id: _room_of(np.asarray(n.position[:2]), ground_truth["rooms"]) for n in graph.layer(PLACES)}
    overlap = Counter((r, truth[p]) for p, r in place_room.items())  # (estimated, ground truth) -> places
    size_est = Counter(place_room.values())
    size_gt = Counter(all_places.values())
    precision = [max((n for (e, g), n in overlap.items() if e == rid and g >= 0), default=0) / size_est[rid]
                 for rid in size_est]  # fmt: skip
    recall = [max((n for (e, g), n in overlap.items() if g == r["id"]), default=0) / size_gt[r["id"]]
              if size_gt[r["id"]] else 0.0 for r in gt_rooms]  # fmt: skip
    return {
        "estimated": len(est_rooms), "ground_truth": len(gt_rooms), "count_correct": len(est_rooms) == len(gt_rooms),
        "assignment_accuracy": correct / len(place_room) if place_room else 0.0,
        "precision": float(np.mean(precision)) if precision else 0.0,
        "recall": float(np.mean(recall)) if recall else 0.0,
        "places": len(graph.layer(PLACES)),
    }  # fmt: skip


def frame_cloud(depth: np.ndarray, labels: np.ndarray, K: np.ndarray, pose: np.ndarray,
                stride: int = 2) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """World points (N, 3) and labels (N,) of a depth/label image pair seen with intrinsics ``K`` from
    camera-to-world ``pose`` (what the perception node's cloud plus the camera pose give the builder)."""
    from m2h_ros.geometry.cloud import CloudOptions, Intrinsics, backproject

    h, w = depth.shape
    cloud = backproject(depth, np.zeros((h, w, 3), np.uint8), labels.astype(np.int32), Intrinsics.from_matrix(K, w, h),
                        CloudOptions(stride=stride))  # fmt: skip
    xyz = np.stack([cloud["x"], cloud["y"], cloud["z"]], axis=1).astype(np.float64)
    return xyz @ pose[:3, :3].T + pose[:3, 3], cloud["label"]


def scene_graph_of_frames(frames, config=None, rate_hz: float = 10.0, update_every: int = 10):
    """The scene graph built from the depth and labels of ``frames`` (the renderer's: oracle perception),
    seen from their poses, updated every ``update_every`` frames as the node does at 1 Hz for 10 Hz input."""
    from m2h_ros.scene_graph.builder import SceneGraphBuilder

    builder = SceneGraphBuilder(config)
    for i, f in enumerate(frames):
        points, labels = frame_cloud(f.depth, f.labels, f.K, f.pose)
        builder.integrate(points, labels, i / rate_hz, f.pose[:3, 3])
        if i % update_every == update_every - 1:
            builder.update(i / rate_hz)
    return builder.update(len(frames) / rate_hz)
