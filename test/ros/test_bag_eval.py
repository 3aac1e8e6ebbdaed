"""`m2h bag eval` on tiny synthetic bags: the report's numbers against a direct computation on the same
frames, and bags without ground truth, without camera_info, or cut short."""

import json

import numpy as np
import pytest

from .helpers import finish, start_python

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SIZE = (56, 70)  # the network's input size in these tests


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """Random weights (the arithmetic of the evaluation does not depend on training), one rendered home."""
    import torch

    from m2h_ros.model.build import build_model
    from m2h_ros.model.checkpoint import save_checkpoint
    from m2h_ros.synth.generate import SynthConfig, render_scene

    root = tmp_path_factory.mktemp("bag_eval")
    torch.manual_seed(0)
    weights = save_checkpoint(build_model("m2h_lite"), root / "lite.safetensors")
    home, frames = render_scene(3, SynthConfig(width=96, height=72, frames_per_scene=6))
    config = root / "nodes.yaml"
    config.write_text(f"/**/perception_node:\n  ros__parameters:\n    input_size: {list(SIZE)}\n")
    return root, weights, config, home.ground_truth(3), frames


def _bag(scene, name, **kwargs):
    from m2h_ros.synth.writers import write_bag

    root, _, _, truth, frames = scene
    return write_bag(root / name, frames, truth, **kwargs)


def _evaluate(scene, bag, out):
    from m2h_ros.ros.bag_eval import BagEvalConfig, evaluate_bag

    _, weights, config, _, _ = scene
    return evaluate_bag(bag, out, BagEvalConfig(weights=weights, config=config, device="cpu"), progress=False)


def test_report_matches_a_direct_computation_on_the_same_frames(ros_env, scene, tmp_path):
    from m2h_ros import labels
    from m2h_ros.eval.metrics import MultiTaskMeter
    from m2h_ros.inference.predictor import Predictor, PredictorConfig

    _, weights, _, _, frames = scene
    report = _evaluate(scene, _bag(scene, "full"), tmp_path / "report")
    # the nodes' counters say why a frame went unanswered, should one ever be
    assert report["timing"]["frames_sent"] == len(frames) == report["frames_evaluated"], report["diagnostics"]
    assert report["timing"]["drop_rate"] == 0 and report["timing"]["latency_p50_ms"] > 0
    # the same frames through the Predictor, with the node's label mapping (void -> -1), scored directly
    predictor = Predictor.from_checkpoint(weights, PredictorConfig(input_size=SIZE, device="cpu"))
    space = labels.SYNTHETIC
    meter = MultiTaskMeter(len(space), [i for i in range(len(space)) if i not in space.invalid_labels])
    from m2h_ros.synth.render import edge_target

    for f in frames:
        p = predictor.predict(f.rgb, float(f.K[0, 0]))
        meter.update(labels=np.where(p.labels > 0, p.labels, -1)[None], depth=p.depth[None],
                     normals=np.moveaxis(p.normals, -1, 0)[None], edges=p.edges[None],
                     gt_semseg=np.where(f.labels > 0, f.labels, -1)[None], gt_depth=f.depth[None],
                     gt_normals=np.moveaxis(f.normals, -1, 0)[None], gt_edges=edge_target(f.edges)[None])  # fmt: skip
    direct = meter.compute()
    for task, values in direct.items():
        for key, value in values.items():
            expected = value if isinstance(value, str) else pytest.approx(value, rel=1e-3, abs=1e-3)
            assert report["metrics"][task][key] == expected, (task, key)
    for name in ("report.md", "report.json", "contact_sheet.png", "latency.png", "scene_graph.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "report" / "report.json").read_text())["timing"] == report["timing"]
    assert "scene_graph" in report and "objects" in report["scene_graph"]


def test_no_cloud_is_dropped_for_want_of_its_pose(ros_env, scene, tmp_path):
    # Replay starts once the pose topic, too, is matched to the scene-graph node: a pose sent earlier
    # is lost, and its cloud (the first frame's) dropped after max_pose_wait_s.
    report = _evaluate(scene, _bag(scene, "poses"), tmp_path / "report")
    counts = report["diagnostics"]["scene_graph_node: scene graph"]
    assert int(counts["clouds_in"]) > 0 and "dropped_no_pose" not in counts, counts


def test_floor_scale_mode_is_scored_before_and_after_the_scale(ros_env, scene, tmp_path):
    from m2h_ros.eval.report import headline
    from m2h_ros.ros.bag_eval import BagEvalConfig, evaluate_bag

    root, weights, config, _, _ = scene
    scaled = root / "nodes_floor_scale.yaml"
    scaled.write_text(config.read_text() + "    scale:\n      mode: floor\n      camera_height_m: 1.1\n")
    report = evaluate_bag(_bag(scene, "scaled"), tmp_path / "report",
                          BagEvalConfig(weights=weights, config=scaled, device="cpu"), progress=False)  # fmt: skip
    m = report["metrics"]
    # every frame the node answered came with its floor scale (estimated, or held where the random
    # weights see too little floor), and was scored with and without it
    assert 0 < m["floor_scale"]["frames"] == report["frames_evaluated"]
    assert m["depth_before_scale"]["abs_rel"] > 0 and "floor scale: error" in headline(report)


def test_bag_without_ground_truth_still_gets_the_timing_report(ros_env, scene, tmp_path):
    bag = _bag(scene, "no_gt", topics=("/camera/image_raw", "/camera/camera_info", "/camera/pose"))
    report = _evaluate(scene, bag, tmp_path / "report")
    # The node takes images best-effort (sensor-data QoS), so a busy machine may lose one: what this
    # test proves is the timing report, not lossless transport.
    timing = report["timing"]
    assert 0 < timing["frames_answered"] <= timing["frames_sent"] == 6
    assert timing["latency_p50_ms"] > 0 and timing["throughput_hz"] > 0
    assert "metrics" not in report and any("no ground-truth topics" in n for n in report["notes"])
    assert "no ground-truth topics" in (tmp_path / "report" / "report.md").read_text()


def test_bag_without_camera_info_is_evaluated_without_a_scene_graph(ros_env, scene, tmp_path):
    topics = ("/camera/image_raw", "/camera/pose", "/gt/depth", "/gt/semantic", "/gt/normals", "/gt/edges")
    report = _evaluate(scene, _bag(scene, "no_info", topics=topics), tmp_path / "report")
    assert report["frames_evaluated"] > 0 and "metrics" in report
    assert any("no camera_info" in n for n in report["notes"]) and "scene_graph" not in report


def test_truncated_and_missing_bags_give_clear_messages(ros_env, scene, tmp_path):
    bag = _bag(scene, "cut")
    data = next(bag.glob("*.mcap"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])  # an MCAP cut in half loses its footer
    _, weights, config, _, _ = scene
    proc = start_python("m2h_ros.cli", "bag", "eval", str(bag), "--out", str(tmp_path / "r"), "--weights",
                        str(weights), "--config", str(config), env=ros_env, module=True)  # fmt: skip
    code, out = finish(proc)
    assert code == 2 and f"m2h: error: {bag}: cannot open the bag" in out and "Traceback" not in out, out
    proc = start_python("m2h_ros.cli", "bag", "eval", str(tmp_path / "nowhere"), env=ros_env, module=True)
    code, out = finish(proc)
    assert code == 2 and "no such bag" in out and "Traceback" not in out
