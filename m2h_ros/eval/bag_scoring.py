"""Scoring a replayed bag, frame by frame, without ROS: the nodes' outputs of a frame against the
bag's ground truth of the same stamp, the replay's timing, and the final scene graph.

:class:`FrameScorer` receives ground truth and predictions as arrays keyed by their stamp (seconds)
in any order, scores a frame once both are in, and forgets it; only the frames chosen for the
contact sheet are kept.

Frames whose depth the node scaled by the floor (``scale.mode: floor``) are scored as published and,
divided by their scale, as the network gave them; the scale's error is against each frame's best single
scale, the median ratio of true to network depth over the valid pixels.
"""

from __future__ import annotations

import numpy as np

from m2h_ros import labels as label_spaces
from m2h_ros.eval.metrics import DepthMeter, MultiTaskMeter
from m2h_ros.eval.report import SheetRow
from m2h_ros.scene_graph.graph import SceneGraph

SCORED_OUTPUTS = ("depth", "semantic", "normals", "edges")  # what is scored of each frame, as the node names them
TRUTH_LABEL_SPACE = "synthetic"  # the label ids of the bags' /gt/semantic


class FrameScorer:
    """Pooled multi-task metrics of the frames whose outputs and ground truth are both in.

    Each prediction and truth is a dict with ``depth`` (H, W) metres, ``semantic`` (H, W) ids,
    ``normals`` (H, W, 3) and ``edges`` (H, W); truth ``edges`` is 0–255.

    Args:
        label_space: the label space of the predictions (the ground truth is remapped onto it).
        expects_truth: False for a bag without ground truth: predictions are counted, not scored.
    """

    def __init__(self, label_space: str, expects_truth: bool = True):
        self.space = label_spaces.get_label_space(label_space)
        self.truth_table = label_spaces.remap_table(TRUTH_LABEL_SPACE, self.space)
        scored = [i for i in range(len(self.space)) if i not in self.space.invalid_labels]
        self.meter = MultiTaskMeter(len(self.space), scored)
        self.expects_truth = expects_truth
        self.truth: dict[float, dict[str, np.ndarray]] = {}
        self.rgb: dict[float, np.ndarray] = {}  # inputs of the contact sheet's frames
        self.rows: list[SheetRow] = []
        self.evaluated = 0
        self.unscaled = DepthMeter()  # the depth of the frames that came with a floor scale, before it
        self.scale_errors: list[float] = []

    def add_truth(self, t: float, output: str, array: np.ndarray) -> None:
        self.truth.setdefault(t, {})[output] = array

    def keep_rgb(self, t: float, rgb: np.ndarray) -> None:
        """Keep the input of frame ``t`` for the contact sheet."""
        self.rgb[t] = rgb

    def ready(self, t: float) -> bool:
        """Whether a prediction of frame ``t`` can be taken now (its truth is in, or none will come)."""
        return not self.expects_truth or len(self.truth.get(t, ())) == len(SCORED_OUTPUTS)

    def score(self, t: float, pred: dict[str, np.ndarray], scale: float | None = None) -> None:
        """Score the prediction of frame ``t`` (take it only when :meth:`ready`); then forget the frame.
        ``scale``: the floor scale the node applied to its depth."""
        gt = self.truth.pop(t, None)
        rgb = self.rgb.pop(t, None)
        if gt is None:
            return
        gt_labels = label_spaces.remap(gt["semantic"], self.truth_table)
        self.meter.update(labels=pred["semantic"][None], depth=np.nan_to_num(pred["depth"])[None],
                          normals=np.moveaxis(pred["normals"], -1, 0)[None], edges=pred["edges"][None],
                          gt_semseg=gt_labels[None], gt_depth=np.nan_to_num(gt["depth"])[None],
                          gt_normals=np.moveaxis(np.nan_to_num(gt["normals"]), -1, 0)[None],
                          gt_edges=(gt["edges"] > 127).astype(np.uint8)[None])  # fmt: skip
        if scale is not None:
            self._score_scale(np.nan_to_num(pred["depth"]) / scale, np.nan_to_num(gt["depth"]), scale)
        if rgb is not None:
            self.rows.append(SheetRow(rgb, pred["depth"], pred["semantic"], pred["normals"], pred["edges"],
                                      gt["depth"], gt_labels))  # fmt: skip
        self.evaluated += 1

    def _score_scale(self, network_depth: np.ndarray, gt_depth: np.ndarray, scale: float) -> None:
        self.unscaled.update(network_depth[None], gt_depth[None])
        valid = (gt_depth > 0) & (network_depth > 0)
        if valid.any():
            best = float(np.median(gt_depth[valid] / network_depth[valid]))
            self.scale_errors.append(abs(scale / best - 1))

    def metrics(self) -> dict | None:
        """The pooled metrics; with floor-scaled frames also ``depth_before_scale`` and ``floor_scale``
        (frames, median and mean relative error of the scale)."""
        if not self.evaluated:
            return None
        metrics = self.meter.compute()
        if self.scale_errors:
            metrics["depth_before_scale"] = self.unscaled.compute()
            metrics["floor_scale"] = {"frames": len(self.scale_errors),
                                      "error_median": float(np.median(self.scale_errors)),
                                      "error_mean": float(np.mean(self.scale_errors))}  # fmt: skip
        return metrics


def latencies_ms(sent: dict[float, float], received: dict[float, float]) -> list[float]:
    """Per answered frame: milliseconds from sending it to its answer (monotonic seconds by stamp)."""
    return [(received[t] - sent[t]) * 1e3 for t in sent if t in received]


def timing(sent: dict[float, float], received: dict[float, float]) -> dict:
    """Frames sent and answered, throughput and latency, from the monotonic times (s) at which each
    frame (by stamp) was sent and its answer arrived."""
    latencies = latencies_ms(sent, received)
    answered = len(latencies)
    span = (max(received[t] for t in sent if t in received) - min(sent.values())) if answered else 0.0
    percentile = lambda q: float(np.percentile(latencies, q)) if latencies else float("nan")  # noqa: E731
    return {
        "frames_sent": len(sent), "frames_answered": answered,
        "drop_rate": 1 - answered / len(sent) if sent else float("nan"),
        "throughput_hz": answered / span if span > 0 else 0.0,
        "latency_p50_ms": percentile(50), "latency_p95_ms": percentile(95),
        "latency_max_ms": float(max(latencies)) if latencies else float("nan"),
    }  # fmt: skip


def scene_graph_summary(graph: SceneGraph, truth: dict | None) -> dict:
    """Node counts of the final scene graph and, with the home's ground truth, object and room scores."""
    from m2h_ros.eval.scene_graph import evaluate_rooms, match_objects

    summary = {"nodes": graph.counts()}
    if truth:
        observed = set(truth["observed_instances"]) if "observed_instances" in truth else None
        visited = set(truth["visited_rooms"]) if "visited_rooms" in truth else None
        objects = match_objects(graph, truth, observed)
        objects.pop("matches")
        summary |= {"objects": objects, "rooms": evaluate_rooms(graph, truth, visited)}
    return summary
