"""Writing rendered scenes: a dataset in the NYUDv2 multi-task layout, a rosbag2, a contact sheet.

Dataset layout (that of MTI-Net / InvPT / MTMamba, so one reader serves NYUDv2 and synthetic data)::

    images/<id>.png         RGB uint8
    depth/<id>.npy          float32 metres, 0 = invalid
    segmentation/<id>.png   uint8 NYU-40 ids, 0 = void
    normals/<id>.png        RGB uint8, n = 2·v/255 - 1, camera optical frame; (0, 0, 0) = invalid
    edge/<id>.png           uint8 {0, 255}: occlusion, instance or semantic boundary
    gt_sets/train.txt, val.txt[, test.txt]
  extras:
    instances/<id>.png      uint16 instance ids (those of scenes/<scene>.json)
    edge_flags/<id>.png     uint8 OCC=1 | INST=2 | SEM=4 | CREASE=8
    cameras/<id>.json       K (3×3), T_world_cam (4×4, camera optical frame to world), scene, room
    scenes/<scene>.json     the scene's ground truth (objects, rooms, doors)

Ids are ``s<seed>_<frame>``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from m2h_ros import labels
from m2h_ros.errors import DataError
from m2h_ros.synth.render import CREASE, INST, OCC, SEM, Frame, edge_target

_TO_NYU40 = labels.remap_table(labels.SYNTHETIC, labels.NYU40).astype(np.uint8)
LAYOUT_DIRS = ("images", "depth", "segmentation", "normals", "edge", "instances", "edge_flags", "cameras")


def frame_id(seed: int, index: int) -> str:
    return f"s{seed:05d}_{index:04d}"


def encode_normals(normals: np.ndarray, valid: np.ndarray) -> np.ndarray:
    out = np.clip(np.round((normals * 0.5 + 0.5) * 255), 0, 255).astype(np.uint8)
    out[~valid] = 0
    return out


def write_dataset_scene(root: str | Path, seed: int, frames: list[Frame], ground_truth: dict) -> list[str]:
    """Write one scene's frames and ground truth under ``root``; returns the frame ids."""
    root = Path(root)
    for d in (*LAYOUT_DIRS, "scenes"):
        (root / d).mkdir(parents=True, exist_ok=True)
    ids = []
    for i, f in enumerate(frames):
        fid = frame_id(seed, i)
        valid = f.depth > 0
        Image.fromarray(f.rgb).save(root / "images" / f"{fid}.png")
        np.save(root / "depth" / f"{fid}.npy", f.depth.astype(np.float32))
        Image.fromarray(_TO_NYU40[f.labels]).save(root / "segmentation" / f"{fid}.png")
        Image.fromarray(encode_normals(f.normals, valid)).save(root / "normals" / f"{fid}.png")
        Image.fromarray(edge_target(f.edges).astype(np.uint8) * 255).save(root / "edge" / f"{fid}.png")
        Image.fromarray(f.instances).save(root / "instances" / f"{fid}.png")
        Image.fromarray(f.edges).save(root / "edge_flags" / f"{fid}.png")
        camera = {"K": f.K.tolist(), "T_world_cam": f.pose.tolist(), "scene": f"s{seed:05d}", "room": int(f.room),
                  "camera_frame": "optical (REP 103): x right, y down, z forward"}  # fmt: skip
        (root / "cameras" / f"{fid}.json").write_text(json.dumps(camera))
        ids.append(fid)
    (root / "scenes" / f"s{seed:05d}.json").write_text(json.dumps(ground_truth, indent=1))
    return ids


def write_splits(root: str | Path, splits: dict[str, list[str]]) -> None:
    """``gt_sets/<split>.txt`` for each split; an empty test split writes no file."""
    (Path(root) / "gt_sets").mkdir(parents=True, exist_ok=True)
    for name, ids in splits.items():
        if ids or name != "test":
            (Path(root) / "gt_sets" / f"{name}.txt").write_text("".join(f"{i}\n" for i in sorted(ids)))


# --- rosbag2 -----------------------------------------------------------------------------------------

BAG_TOPICS = {
    "/camera/image_raw": "sensor_msgs/msg/Image",
    "/camera/camera_info": "sensor_msgs/msg/CameraInfo",
    "/tf": "tf2_msgs/msg/TFMessage",
    "/camera/pose": "geometry_msgs/msg/PoseStamped",
    "/gt/depth": "sensor_msgs/msg/Image",
    "/gt/semantic": "sensor_msgs/msg/Image",
    "/gt/normals": "sensor_msgs/msg/Image",
    "/gt/edges": "sensor_msgs/msg/Image",
}
WORLD_FRAME, CAMERA_FRAME = "map", "camera_color_optical_frame"


def _quaternion(R: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a rotation matrix."""
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(R).as_quat()
    return float(x), float(y), float(z), float(w)


def _image(T, header, arr: np.ndarray, encoding: str):
    arr = np.ascontiguousarray(arr)
    return T["sensor_msgs/msg/Image"](header=header, height=arr.shape[0], width=arr.shape[1], encoding=encoding,
                                      is_bigendian=0, step=arr.strides[0], data=arr.view(np.uint8).reshape(-1))  # fmt: skip


def frame_messages(T, f: Frame, t: float) -> dict:
    """The messages of one frame at bag time ``t`` (seconds), by topic; ``T`` is a rosbags typestore's types."""
    stamp = T["builtin_interfaces/msg/Time"](sec=int(t), nanosec=min(round((t % 1) * 1e9), 999_999_999))
    header = T["std_msgs/msg/Header"](stamp=stamp, frame_id=CAMERA_FRAME)
    world = T["std_msgs/msg/Header"](stamp=stamp, frame_id=WORLD_FRAME)
    h, w = f.depth.shape
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    info = T["sensor_msgs/msg/CameraInfo"](
        header=header, height=h, width=w, distortion_model="plumb_bob", d=np.zeros(5), k=f.K.reshape(-1).astype(float),
        r=np.eye(3).reshape(-1), p=np.hstack([f.K, np.zeros((3, 1))]).reshape(-1), binning_x=0, binning_y=0, roi=roi,
    )  # fmt: skip
    qx, qy, qz, qw = _quaternion(f.pose[:3, :3])
    px, py, pz = (float(v) for v in f.pose[:3, 3])
    rotation = T["geometry_msgs/msg/Quaternion"](x=qx, y=qy, z=qz, w=qw)
    transform = T["geometry_msgs/msg/Transform"](translation=T["geometry_msgs/msg/Vector3"](x=px, y=py, z=pz),
                                                 rotation=rotation)  # fmt: skip
    tf = T["geometry_msgs/msg/TransformStamped"](header=world, child_frame_id=CAMERA_FRAME, transform=transform)
    pose = T["geometry_msgs/msg/Pose"](position=T["geometry_msgs/msg/Point"](x=px, y=py, z=pz), orientation=rotation)
    return {
        "/camera/image_raw": _image(T, header, f.rgb, "rgb8"),
        "/camera/camera_info": info,
        "/tf": T["tf2_msgs/msg/TFMessage"](transforms=[tf]),
        "/camera/pose": T["geometry_msgs/msg/PoseStamped"](header=world, pose=pose),
        "/gt/depth": _image(T, header, np.where(f.depth > 0, f.depth, np.nan).astype(np.float32), "32FC1"),
        "/gt/semantic": _image(T, header, np.where(f.labels > 0, f.labels, -1).astype(np.int16), "16SC1"),
        "/gt/normals": _image(T, header, f.normals.astype(np.float32), "32FC3"),
        "/gt/edges": _image(T, header, edge_target(f.edges).astype(np.uint8) * 255, "mono8"),
    }


def write_bag(path: str | Path, frames: list[Frame], ground_truth: dict, rate_hz: float = 10.0,
              storage: str = "mcap", start_s: float = 1000.0, topics=tuple(BAG_TOPICS)) -> Path:  # fmt: skip
    """A rosbag2 (MCAP or sqlite3) of the frames at ``rate_hz`` with ``topics`` (default: all of
    :data:`BAG_TOPICS`), and ``scene.json`` beside the data."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    path = Path(path)
    if path.exists():
        raise DataError(f"{path} exists; choose a new bag directory")
    ts = get_typestore(Stores.ROS2_JAZZY)
    plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        conns = {topic: writer.add_connection(topic, BAG_TOPICS[topic], typestore=ts) for topic in topics}
        for i, f in enumerate(frames):
            t = start_s + i / rate_hz
            for topic, msg in frame_messages(ts.types, f, t).items():
                if topic in conns:
                    writer.write(conns[topic], round(t * 1e9), ts.serialize_cdr(msg, BAG_TOPICS[topic]))
    from m2h_ros.eval.scene_graph import observed_instances

    # what the camera saw: the scene-graph evaluation counts only these objects and rooms
    seen = {"observed_instances": sorted(observed_instances(f.instances for f in frames)),
            "visited_rooms": sorted({int(f.room) for f in frames})}  # fmt: skip
    (path / "scene.json").write_text(json.dumps({**ground_truth, **seen}, indent=1))
    return path


# --- pictures -----------------------------------------------------------------------------------------


def colorize_depth(depth: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """Metres -> RGB uint8 (dark blue near, red far; black where invalid)."""
    valid = depth > 0
    vmax = vmax or (max(float(np.percentile(depth[valid], 99)), 1e-3) if valid.any() else 1.0)
    x = np.clip(depth / vmax, 0, 1)
    stops = np.array([[0.05, 0.03, 0.3], [0.1, 0.5, 0.9], [0.3, 0.85, 0.6], [0.95, 0.85, 0.2], [0.8, 0.1, 0.1]])
    pos = x * (len(stops) - 1)
    i = np.clip(np.floor(pos).astype(int), 0, len(stops) - 2)
    frac = (pos - i)[..., None]
    out = (stops[i] * (1 - frac) + stops[i + 1] * frac) * 255
    out[~valid] = 0
    return out.astype(np.uint8)


def frame_tiles(f: Frame) -> list[np.ndarray]:
    """RGB, depth, normals, semantics, instances, edges as RGB pictures."""
    rng = np.random.default_rng(1)
    instance_colors = rng.integers(40, 255, (65536, 3)).astype(np.uint8)
    instance_colors[0] = 0
    edges = np.full((*f.edges.shape, 3), 255, np.uint8)
    edges[(f.edges & CREASE) > 0] = (170, 170, 170)
    edges[(f.edges & (INST | SEM)) > 0] = (0, 120, 255)
    edges[(f.edges & OCC) > 0] = (220, 0, 0)
    normals = ((f.normals * 0.5 + 0.5) * 255).astype(np.uint8)
    return [f.rgb, colorize_depth(f.depth), normals, labels.SYNTHETIC.colorize(f.labels), instance_colors[f.instances],
            edges]  # fmt: skip


def ground_truth_sheet(frames: list[Frame], path: str | Path, columns: int = 6) -> Path:
    """One row per rendered frame: RGB | depth | normals | semantics | instances | edges (all exact)."""
    rows = [np.concatenate(frame_tiles(f)[:columns], axis=1) for f in frames]
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)
    return Path(path)
