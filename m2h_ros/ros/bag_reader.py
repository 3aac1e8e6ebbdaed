"""Reading a rosbag2 for `m2h bag eval`: which topics are the camera's, its ground truth, and the
home's ``scene.json`` beside it; the messages in time order, a truncated bag ending early with a note."""

from __future__ import annotations

import importlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

from m2h_ros.errors import DataError

GT_TOPICS = {"/gt/depth": "depth", "/gt/semantic": "semantic", "/gt/normals": "normals", "/gt/edges": "edges"}
TYPES = {
    "sensor_msgs/msg/Image": ("sensor_msgs.msg", "Image"),
    "sensor_msgs/msg/CameraInfo": ("sensor_msgs.msg", "CameraInfo"),
    "geometry_msgs/msg/PoseStamped": ("geometry_msgs.msg", "PoseStamped"),
    "tf2_msgs/msg/TFMessage": ("tf2_msgs.msg", "TFMessage"),
}
# The camera topics that are replayed, by role, with their message type.
ROLES = {"image": "sensor_msgs/msg/Image", "camera_info": "sensor_msgs/msg/CameraInfo",
         "pose": "geometry_msgs/msg/PoseStamped", "tf": "tf2_msgs/msg/TFMessage"}  # fmt: skip


def msg_class(type_name: str):
    """The rclpy message class of a ROS type name such as ``sensor_msgs/msg/Image``."""
    module, name = TYPES[type_name]
    return getattr(importlib.import_module(module), name)


@dataclass
class BagSource:
    """An open bag: ``topics`` maps each role of :data:`ROLES` to its topic (None if absent)."""

    path: Path
    reader: object
    topics: dict[str, str | None]
    has_truth: bool
    truth: dict | None  # scene.json of the home, if beside the bag
    n_images: int
    notes: list[str] = field(default_factory=list)

    def messages(self):
        """(topic, type name, bag time ns, raw bytes) of the replayed and ground-truth topics, in time order."""
        wanted = {*filter(None, self.topics.values()), *(GT_TOPICS if self.has_truth else ())}
        connections = [c for c in self.reader.connections if c.topic in wanted]
        count = 0
        try:
            for conn, t_ns, raw in self.reader.messages(connections=connections):
                count += 1
                yield conn.topic, conn.msgtype, t_ns, raw
        except Exception as e:  # rosbags raises several types for damaged data
            self.notes.append(f"the bag ends early (after {count} messages): {type(e).__name__}: {e}")

    def close(self) -> None:
        self.reader.close()


def open_bag(bag: str | Path) -> BagSource:
    """Open ``bag`` (a rosbag2 directory, or an .mcap/.db3 file); DataError says why it cannot be used."""
    from rosbags.highlevel import AnyReader

    bag = Path(bag)
    if not bag.exists():
        raise DataError(f"{bag}: no such bag (a rosbag2 directory with metadata.yaml, or an .mcap/.db3 file)")
    try:
        reader = AnyReader([bag])
        reader.open()
    except Exception as e:  # rosbags raises several types for unreadable bags
        raise DataError(f"{bag}: cannot open the bag ({type(e).__name__}: {e})") from None
    try:
        topics = _topics(reader)
    except DataError:
        reader.close()
        raise
    notes = []
    if not topics["camera_info"]:
        notes.append("the bag has no camera_info: images are evaluated, but there is no cloud and no scene graph")
    present = {c.topic for c in reader.connections}
    missing = sorted(set(GT_TOPICS) - present)
    if missing:
        what = "no ground-truth topics (/gt/*)" if len(missing) == len(GT_TOPICS) else f"no {', '.join(missing)}"
        notes.append(f"the bag has {what}: timing and outputs only")
    truth_path = (bag if bag.is_dir() else bag.parent) / "scene.json"
    truth = json.loads(truth_path.read_text()) if truth_path.is_file() else None
    n_images = sum(c.msgcount for c in reader.connections if c.topic == topics["image"])
    return BagSource(bag, reader, topics, not missing, truth, n_images, notes)


def _topics(reader) -> dict[str, str | None]:
    by_type: dict[str, list[str]] = {}
    for c in reader.connections:
        by_type.setdefault(c.msgtype, []).append(c.topic)
    images = [t for t in by_type.get(ROLES["image"], []) if not t.startswith("/gt/")]
    if not images:
        raise DataError(f"no camera image topic (sensor_msgs/msg/Image outside /gt/); topics: "
                        f"{', '.join(sorted(c.topic for c in reader.connections))}")  # fmt: skip
    topics = {role: (by_type.get(kind) or [None])[0] for role, kind in ROLES.items()}
    topics["image"] = "/camera/image_raw" if "/camera/image_raw" in images else images[0]
    # tf2_msgs is not on PyPI: in a venv /tf is not replayed (the scene-graph node takes the pose topic).
    tf_ok = "/tf" in by_type.get(ROLES["tf"], []) and importlib.util.find_spec("tf2_msgs") is not None
    topics["tf"] = "/tf" if tf_ok else None
    return topics
