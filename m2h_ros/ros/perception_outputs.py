"""The perception node's output messages for one frame: which outputs exist, their topics, and how
each is built from the network's prediction (only the outputs someone subscribes to are built)."""

from __future__ import annotations

import cv2
import numpy as np

from m2h_ros.geometry.cloud import CloudOptions, Intrinsics, backproject
from m2h_ros.labels import LabelSpace
from m2h_ros.ros import conversions as conv

OUTPUTS = ("depth", "semantic", "semantic_color", "semantic_overlay", "normals", "normals_color", "edges",
           "edges_color", "color", "camera_info", "points")  # fmt: skip
# Output topics that differ from the output's name: the input already takes ``camera_info``.
OUTPUT_TOPICS = {"camera_info": "camera_info_out"}
LABELLED = {"semantic", "semantic_color", "semantic_overlay", "points"}  # outputs that need the labels
NEEDS_CAMERA = {"camera_info", "points"}  # outputs that need the frame's camera_info


class OutputBuilder:
    """Builds the messages of the wanted outputs.

    Args:
        label_table: model class -> published label (-1: unknown), int16.
        label_space: the space of the published labels (their colours).
        overlay_alpha: weight of the label colours in ``semantic_overlay``.
        cloud: the back-projection options of ``points``.
    """

    def __init__(self, label_table: np.ndarray, label_space: LabelSpace, overlay_alpha: float, cloud: CloudOptions):
        self.label_table, self.label_space = label_table, label_space
        self.overlay_alpha, self.cloud = overlay_alpha, cloud

    def build(self, header, rgb: np.ndarray, pred, wanted: set[str], K: Intrinsics | None) -> dict:
        """The messages of the ``wanted`` outputs of one frame: ``rgb`` (H, W, 3) is the image the
        network saw (rectified if the camera's was distorted), ``K`` its camera (None: no camera_info,
        so no ``camera_info`` or ``points``)."""
        out = {}
        labels = np.take(self.label_table, pred.labels, mode="clip") if wanted & LABELLED else None
        if "depth" in wanted:
            out["depth"] = conv.array_to_image(np.where(np.isfinite(pred.depth), pred.depth, np.nan), "32FC1", header)
        if "semantic" in wanted:
            out["semantic"] = conv.array_to_image(labels, "16SC1", header)
        if wanted & {"semantic_color", "semantic_overlay"}:
            color = self.label_space.colorize(labels)
            if "semantic_color" in wanted:
                out["semantic_color"] = conv.array_to_image(color, "rgb8", header)
            if "semantic_overlay" in wanted:
                a = self.overlay_alpha
                out["semantic_overlay"] = conv.array_to_image(cv2.addWeighted(color, a, rgb, 1 - a, 0), "rgb8", header)
        if "normals" in wanted:
            out["normals"] = conv.array_to_image(pred.normals, "32FC3", header)
        if "normals_color" in wanted:
            # cv2's saturating float -> uint8 conversion: one pass instead of numpy's three (abs() is a
            # no-op on these non-negative values)
            colour = cv2.convertScaleAbs(pred.normals, alpha=127.5, beta=127.5)
            out["normals_color"] = conv.array_to_image(colour, "rgb8", header)
        if "edges" in wanted:
            out["edges"] = conv.array_to_image(pred.edges, "32FC1", header)
        if "edges_color" in wanted:
            out["edges_color"] = conv.array_to_image(cv2.convertScaleAbs(pred.edges, alpha=255.0), "mono8", header)
        if "color" in wanted:
            out["color"] = conv.array_to_image(rgb, "rgb8", header)
        if K is not None and "camera_info" in wanted:
            out["camera_info"] = conv.camera_info_from_intrinsics(K, header)
        if K is not None and "points" in wanted:
            out["points"] = conv.cloud_to_pointcloud2(backproject(pred.depth, rgb, labels, K, self.cloud), header)
        return out
