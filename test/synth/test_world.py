"""The synthetic world: reproducible scenes, exact ground truth, writers that round-trip."""

import json

import numpy as np
import pytest

from m2h_ros.labels import NYU40, SYNTHETIC
from m2h_ros.synth.generate import SynthConfig, render_scene
from m2h_ros.synth.render import INST, OCC, SEM, edge_target
from m2h_ros.synth.scene import Scene

pytestmark = pytest.mark.slow
SEED = 7


@pytest.fixture(scope="module")
def rendered():
    scene, frames = render_scene(SEED, SynthConfig(width=160, height=120, frames_per_scene=4))
    assert len(frames) == 4
    return scene, frames, scene.ground_truth(SEED)


def camera_rays(frame):
    h, w = frame.depth.shape
    K = frame.K
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    return np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones((h, w))], -1)


def world_points(frame):
    R, t = frame.pose[:3, :3], frame.pose[:3, 3]
    return (camera_rays(frame) * frame.depth[..., None]) @ R.T + t


def test_scenes_are_reproducible_and_plausible():
    a, b = Scene(11).generate().ground_truth(11), Scene(11).generate().ground_truth(11)
    assert json.dumps(a) == json.dumps(b)
    assert json.dumps(Scene(12).generate().ground_truth(12)) != json.dumps(a)
    for seed in range(5):
        gt = Scene(seed).generate().ground_truth(seed)
        assert 2 <= len(gt["rooms"]) <= 4
        room_ids = {r["id"] for r in gt["rooms"]}
        assert all(set(d["rooms"]) <= room_ids and len(set(d["rooms"])) == 2 for d in gt["doors"])
        assert len(gt["doors"]) >= len(gt["rooms"]) - 1  # every room reachable
        for o in gt["objects"]:
            assert SYNTHETIC.names[o["cls_id"]] == o["cls"] and o["room"] in room_ids
            assert all(lo <= hi for lo, hi in zip(o["aabb_min"], o["aabb_max"]))
        assert {"table", "chair", "bed", "sofa", "shelf", "cabinet"} & {o["cls"] for o in gt["objects"]}


def test_depth_agrees_with_the_analytic_floor_and_ceiling(rendered):
    scene, frames, _ = rendered
    for f in frames:
        p = world_points(f)
        floor, ceiling = f.labels == SYNTHETIC.id("floor"), f.labels == SYNTHETIC.id("ceiling")
        assert floor.any()
        np.testing.assert_allclose(p[floor][:, 2], 0.0, atol=2e-4)
        if ceiling.any():
            np.testing.assert_allclose(p[ceiling][:, 2], scene.height, atol=2e-4)
        assert (f.depth > 0).all()  # homes are closed: every ray hits something


def test_normals_are_unit_and_face_the_camera(rendered):
    _, frames, _ = rendered
    for f in frames:
        n = f.normals
        np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-5)
        assert ((n * camera_rays(f)).sum(-1) < 1e-6).all()
        floor = f.labels == SYNTHETIC.id("floor")
        world = n[floor] @ f.pose[:3, :3].T
        np.testing.assert_allclose(world, np.broadcast_to([0, 0, 1], world.shape), atol=1e-5)


def test_labels_and_instances_match_the_scene_ground_truth(rendered):
    _, frames, gt = rendered
    objects = {o["inst"]: o for o in gt["objects"]}
    for f in frames:
        assert f.labels.max() < len(SYNTHETIC)
        for inst in np.unique(f.instances):
            assert inst in objects, inst
            assert set(np.unique(f.labels[f.instances == inst])) == {objects[inst]["cls_id"]}


def test_edges_are_one_pixel_thin_and_lie_on_discontinuities(rendered):
    _, frames, _ = rendered
    for f in frames:
        for flag, ids in ((INST, f.instances), (SEM, f.labels)):
            marked = (f.edges & flag) > 0
            assert marked.any()
            for a, b in (((slice(None), slice(0, -1)), (slice(None), slice(1, None))),
                         ((slice(0, -1), slice(None)), (slice(1, None), slice(None)))):  # fmt: skip
                differ = ids[a] != ids[b]
                # Each boundary pair is marked on its foreground pixel, not on the background one.
                fg_a = f.depth[a] <= f.depth[b]
                assert (marked[a][differ & fg_a]).all() and (marked[b][differ & ~fg_a]).all()
            # ... and a marked pixel has a neighbour across the boundary.
            pad = np.pad(ids, 1, mode="edge")
            neighbour_differs = np.zeros_like(marked)
            for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                neighbour_differs |= pad[1 + dy : 1 + dy + ids.shape[0], 1 + dx : 1 + dx + ids.shape[1]] != ids
            assert neighbour_differs[marked].all()
        # Occlusions are marked on the nearer pixel of a pair whose tangent planes disagree.
        occ = (f.edges & OCC) > 0
        zpad = np.pad(f.depth, 1, mode="constant", constant_values=-1)
        not_nearer = np.zeros_like(occ)
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            not_nearer |= zpad[1 + dy : 1 + dy + f.depth.shape[0], 1 + dx : 1 + dx + f.depth.shape[1]] >= f.depth
        assert occ.any() and not_nearer[occ].all()
        assert 0.005 < edge_target(f.edges).mean() < 0.2


def test_the_same_seed_gives_identical_bytes():
    config = SynthConfig(width=64, height=48, frames_per_scene=2)
    (_, a), (_, b) = render_scene(3, config), render_scene(3, config)
    for fa, fb in zip(a, b):
        for field in ("rgb", "depth", "normals", "labels", "instances", "edges", "pose"):
            assert getattr(fa, field).tobytes() == getattr(fb, field).tobytes(), field


def test_dataset_layout_split_by_scene(tmp_path):
    from PIL import Image

    from m2h_ros.synth.generate import generate_dataset

    config = SynthConfig(width=64, height=48, frames_per_scene=2)
    summary = generate_dataset(tmp_path, [1, 2], config, workers=1, val_fraction=0.5, progress=False)
    assert summary["frames"] == 4 and summary["train_frames"] == 2 == summary["val_frames"]
    train = (tmp_path / "gt_sets" / "train.txt").read_text().split()
    val = (tmp_path / "gt_sets" / "val.txt").read_text().split()
    assert {i.split("_")[0] for i in train} == {"s00001"} and {i.split("_")[0] for i in val} == {"s00002"}
    _, frames = render_scene(1, config)
    fid = train[0]
    assert fid == "s00001_0000"
    np.testing.assert_array_equal(np.load(tmp_path / "depth" / f"{fid}.npy"), frames[0].depth)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "images" / f"{fid}.png")), frames[0].rgb)
    seg = np.asarray(Image.open(tmp_path / "segmentation" / f"{fid}.png"))
    assert {NYU40.names[i] for i in np.unique(seg)} <= {NYU40.names[NYU40.id(n)] for n in
                                                       ("wall", "floor", "ceiling", "door", "window", "table", "chair",
                                                        "bed", "bookshelf", "sofa", "lamp", "cabinet", "television",
                                                        "otherprop", "picture", "floor_mat", "box", "pillow", "books")}  # fmt: skip
    normals = np.asarray(Image.open(tmp_path / "normals" / f"{fid}.png")).astype(float) * 2 / 255 - 1
    np.testing.assert_allclose(normals, frames[0].normals, atol=1 / 255 + 1e-6)
    edge = np.asarray(Image.open(tmp_path / "edge" / f"{fid}.png"))
    assert set(np.unique(edge)) <= {0, 255}
    camera = json.loads((tmp_path / "cameras" / f"{fid}.json").read_text())
    np.testing.assert_allclose(camera["T_world_cam"], frames[0].pose)
    assert json.loads((tmp_path / "scenes" / "s00001.json").read_text())["seed"] == 1


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bag_reads_back_with_rosbags(tmp_path, rendered, storage):
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    from m2h_ros.synth.writers import BAG_TOPICS, write_bag

    _, frames, gt = rendered
    path = write_bag(tmp_path / "bag", frames, gt, rate_hz=5.0, storage=storage)
    scene = json.loads((path / "scene.json").read_text())
    assert {k: v for k, v in scene.items() if k not in ("observed_instances", "visited_rooms")} == gt
    assert scene["visited_rooms"] == sorted({f.room for f in frames})
    seen = {int(i) for f in frames for i, n in zip(*np.unique(f.instances, return_counts=True)) if i and n >= 200}
    assert set(scene["observed_instances"]) == seen and seen & {o["inst"] for o in gt["objects"]}
    ts = get_typestore(Stores.ROS2_JAZZY)
    got = {}
    with Reader(path) as reader:
        assert {c.topic: c.msgtype for c in reader.connections} == BAG_TOPICS
        for conn, stamp, raw in reader.messages():
            got.setdefault(conn.topic, []).append((stamp, ts.deserialize_cdr(raw, conn.msgtype)))
    assert all(len(v) == len(frames) for v in got.values())
    for i, f in enumerate(frames):
        stamp, image = got["/camera/image_raw"][i]
        assert stamp == round((1000.0 + i / 5.0) * 1e9) and image.encoding == "rgb8"
        np.testing.assert_array_equal(image.data.reshape(f.rgb.shape), f.rgb)
        depth = got["/gt/depth"][i][1].data.view(np.float32).reshape(f.depth.shape)
        np.testing.assert_array_equal(depth, f.depth)
        labels = got["/gt/semantic"][i][1].data.view(np.int16).reshape(f.labels.shape)
        np.testing.assert_array_equal(labels, f.labels)
        np.testing.assert_allclose(got["/camera/camera_info"][i][1].k.reshape(3, 3), f.K)
        tf = got["/tf"][i][1].transforms[0]
        assert (tf.header.frame_id, tf.child_frame_id) == ("map", "camera_color_optical_frame")
        np.testing.assert_allclose([tf.transform.translation.x, tf.transform.translation.y,
                                    tf.transform.translation.z], f.pose[:3, 3], atol=1e-9)  # fmt: skip


def test_randomised_homes_vary_the_camera_and_look_reproducibly():
    from m2h_ros.synth.randomize import Randomization

    r = Randomization()
    config = SynthConfig(width=96, height=72, frames_per_scene=6, randomization=r)
    (_, a), (_, b) = render_scene(4, config), render_scene(4, config)
    assert all(fa.rgb.tobytes() == fb.rgb.tobytes() and np.array_equal(fa.K, fb.K) for fa, fb in zip(a, b))
    hfov = [np.degrees(2 * np.arctan((f.K[0, 2] + 0.5) / f.K[0, 0])) for f in a]
    assert all(r.hfov_deg[0] <= h <= r.hfov_deg[1] for h in hfov) and np.ptp(hfov) > 5
    heights = [f.pose[2, 3] for f in a]
    assert all(r.height_m[0] - 0.16 <= z <= r.height_m[1] + 0.16 for z in heights)
    # the same home without randomisation: same layout, a different picture and camera
    _, plain = render_scene(4, SynthConfig(width=96, height=72, frames_per_scene=6))
    assert not np.array_equal(plain[0].K, a[0].K) and plain[0].rgb.tobytes() != a[0].rgb.tobytes()
    # the ground truth stays exact: depth along the optical axis is the ray parameter of the hit
    for f in a:
        assert np.isfinite(f.depth).all() and (f.depth > 0).mean() > 0.95


def test_split_by_scene_with_a_test_split():
    from m2h_ros.synth.generate import split_seeds

    seeds = list(range(100, 164))
    s = split_seeds(seeds, 0.094, 0.125)
    assert (s["train"][-1], s["val"], s["test"]) == (149, list(range(150, 156)), list(range(156, 164)))
    assert split_seeds([1, 2], 0.5) == {"train": [1], "val": [2], "test": []}
    assert split_seeds([1, 2, 3], 0.3, 0.3) == {"train": [1], "val": [2], "test": [3]}
