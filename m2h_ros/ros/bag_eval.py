"""`m2h bag eval`: replay a rosbag2 through the perception and scene-graph nodes over DDS and measure.

The bag is read by :mod:`~m2h_ros.ros.bag_reader`, published to the nodes by
:mod:`~m2h_ros.ros.bag_replay`, and scored by :mod:`~m2h_ros.eval.bag_scoring` against its
ground-truth topics (``/gt/depth``, ``/gt/semantic``, ``/gt/normals``, ``/gt/edges``) and the
``scene.json`` beside it. Metrics stream frame by frame; only the frames of the contact sheet are kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from m2h_ros import labels as label_spaces
from m2h_ros.config import default_config
from m2h_ros.errors import DataError
from m2h_ros.eval.bag_scoring import FrameScorer, latencies_ms, scene_graph_summary, timing
from m2h_ros.eval.report import contact_sheet, latency_histogram, scene_graph_plot, write_report
from m2h_ros.ros.bag_reader import open_bag
from m2h_ros.ros.bag_replay import NodesUnderEvaluation, replay


@dataclass
class BagEvalConfig:
    rate: float = 0.0  # multiple of the recorded rate; 0: each frame once the previous one is answered
    config: Path | None = None  # node parameter file (default: config/perception.yaml)
    weights: Path | None = None
    device: str | None = None
    namespace: str = "/m2h_eval"
    frame_timeout_s: float = 10.0
    start_timeout_s: float = 180.0
    sheet_rows: int = 4


def evaluate_bag(bag: str | Path, out_dir: str | Path, cfg: BagEvalConfig | None = None,
                 progress: bool = True, command: str | None = None) -> dict:  # fmt: skip
    """Replay ``bag`` through the nodes, write the report into ``out_dir``; returns the report.

    ``command``: the command line that asked for it, recorded first in the report.
    """
    cfg = cfg or BagEvalConfig()
    out_dir = Path(out_dir)
    source = open_bag(bag)
    # The replay and the nodes share this machine. Through Fast DDS's default 0.5 MB shared-memory
    # segment, multi-MB images go as UDP fragments, and a lost fragment waits for the writer's next
    # heartbeat (3 s); the package's big-segment profile avoids that unless a profile is chosen already.
    os.environ.setdefault("FASTRTPS_DEFAULT_PROFILES_FILE", str(default_config("fastdds_shm_big.xml")))
    try:
        with NodesUnderEvaluation(source.topics, cfg) as nodes:
            scorer = FrameScorer(nodes.rec.label_space, source.has_truth)
            sent = replay(source, nodes, scorer, cfg, progress, cfg.sheet_rows)
            received = dict(nodes.rec.received)
    finally:
        source.close()
    if not sent:
        raise DataError(f"{source.path}: no image could be read from the bag")

    report = {"command": command, "bag": str(source.path), "weights": str(cfg.weights or "bundled"), "rate": cfg.rate,
              "topics": source.topics, "timing": timing(sent, received), "notes": source.notes,
              "frames_evaluated": scorer.evaluated, "node_exit_code": nodes.exit_code,
              "diagnostics": nodes.diagnostics, "label_space": nodes.label_space}  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    if latencies := latencies_ms(sent, received):
        latency_histogram(latencies, out_dir / "latency.png")
    space = label_spaces.get_label_space(nodes.label_space)
    if (metrics := scorer.metrics()) is not None:
        report["metrics"] = metrics
        contact_sheet(scorer.rows, space, out_dir / "contact_sheet.png")
    if nodes.graphs:
        from m2h_ros.ros.scene_graph_msgs import scene_graph_from_msg

        graph = scene_graph_from_msg(nodes.graphs[-1], space.name)
        graph.save(out_dir / "scene_graph.json")
        report["scene_graph"] = scene_graph_summary(graph, source.truth)
        scene_graph_plot(graph, source.truth, space, out_dir / "scene_graph.png")
    (out_dir / "nodes.log").write_text(nodes.output)
    write_report(out_dir, report)
    return report
