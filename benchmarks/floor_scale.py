"""Metric scale from the floor, on cameras the bundled weights never saw.

Renders homes the weights were not trained on with a camera mounted higher and wider than in training
(training: 0.6–1.6 m, 50–90° horizontal field of view), runs the bundled weights on each walk, and
compares depth as predicted with depth scaled by the floor (``scale.mode: floor``, the camera height
from the pose, as a robot's TF gives it). Reports AbsRel before and after, and the error of the running
scale against the best single scale of each frame (the median of ground truth over prediction). Two
figures say what limits it: AbsRel with that best scale applied (what any one scale per frame could
reach), and the floor's depth ratio, the best scale of the floor's pixels over that of the whole frame
(1: the network places the floor consistently with the rest of the scene; above 1: nearer, and a scale
fitted to the floor overshoots by as much), and the angle between the floor normal the estimator took
from the network and the true one (each degree moves the metric depth of floor pixels seen at a
grazing angle by several per cent). Writes benchmarks/results/floor_scale.json.

    python benchmarks/floor_scale.py [--seeds 300 301 ...] [--frames 20]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from provenance import machine, save

CAMERAS = {  # name -> (height range m, horizontal field of view range deg)
    "as_trained": ((1.1, 1.1), (70.0, 70.0)),
    "higher_wider": ((1.95, 1.95), (100.0, 100.0)),
}


def abs_rel(pred: np.ndarray, gt: np.ndarray) -> tuple[float, int]:
    valid = (gt > 0) & np.isfinite(gt) & np.isfinite(pred)
    return float((np.abs(pred[valid] - gt[valid]) / gt[valid]).sum()), int(valid.sum())


def run_home(seed: int, camera: str, frames: int, predictor) -> dict:
    from m2h_ros.geometry.cloud import Intrinsics
    from m2h_ros.geometry.scale import FloorScale, ScaleConfig
    from m2h_ros.labels import SYNTHETIC
    from m2h_ros.synth.generate import SynthConfig, render_scene
    from m2h_ros.synth.randomize import Randomization

    heights, fov = CAMERAS[camera]
    look = Randomization(height_m=heights, hfov_deg=fov)
    _, rendered = render_scene(seed, SynthConfig(width=320, height=240, frames_per_scene=frames, randomization=look))
    estimator = FloorScale(ScaleConfig(mode="floor", camera_height_m=1.0))
    ground = np.isin(np.arange(len(SYNTHETIC)), sorted(SYNTHETIC.ground_labels))
    sums = {"raw": [0.0, 0], "floor": [0.0, 0], "best_scale": [0.0, 0]}
    scale_errors, floor_ratios, normal_errors, reasons = [], [], [], {}
    for f in rendered:
        p = predictor.predict(f.rgb, float(f.K[0, 0]))
        estimator.config.camera_height_m = float(f.pose[2, 3])  # the floor is z = 0: the camera's height now
        est = estimator.update(p.depth, p.normals, ground[p.labels], Intrinsics.from_matrix(f.K, 320, 240))
        reasons[est.reason] = reasons.get(est.reason, 0) + 1
        valid = f.depth > 0
        best = float(np.median(f.depth[valid] / p.depth[valid]))
        for key, depth in (("raw", p.depth), ("floor", p.depth * est.scale), ("best_scale", p.depth * best)):
            total, n = abs_rel(depth, f.depth)
            sums[key][0] += total
            sums[key][1] += n
        scale_errors.append(abs(est.scale / best - 1))
        if est.plane is not None:
            up = f.pose[:3, :3].T @ np.array([0.0, 0.0, 1.0])  # the true floor normal, camera frame
            normal_errors.append(float(np.degrees(np.arccos(np.clip(np.dot(est.plane[:3], up), -1, 1)))))
        floor = valid & ground[f.labels]
        if floor.sum() >= estimator.config.min_floor_pixels:
            floor_ratios.append(float(np.median(f.depth[floor] / p.depth[floor])) / best)
    return {"seed": seed, "camera": camera, "frames": len(rendered),
            **{f"abs_rel_{key}": total / n for key, (total, n) in sums.items()},
            "scale_error_median": float(np.median(scale_errors)),
            "floor_depth_ratio_median": float(np.median(floor_ratios)) if floor_ratios else float("nan"),
            "floor_normal_error_deg_median": float(np.median(normal_errors)) if normal_errors else float("nan"),
            "reasons": reasons}  # fmt: skip


def main() -> int:
    from m2h_ros.inference.predictor import Predictor, PredictorConfig
    from m2h_ros.weights import BUNDLED_INPUT_SIZE, BUNDLED_WEIGHTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(300, 306)), help="homes (not trained on)")
    parser.add_argument("--frames", type=int, default=20, help="frames per home")
    args = parser.parse_args()
    started = machine()
    predictor = Predictor.from_checkpoint(BUNDLED_WEIGHTS, PredictorConfig(input_size=BUNDLED_INPUT_SIZE, device="cpu"))
    homes = []
    for camera in CAMERAS:
        for seed in args.seeds:
            homes.append(run_home(seed, camera, args.frames, predictor))
            print(json.dumps(homes[-1]), flush=True)
    summary = {}
    for camera in CAMERAS:
        rows = [h for h in homes if h["camera"] == camera]
        summary[camera] = {key: float(np.mean([h[key] for h in rows]))
                           for key in ("abs_rel_raw", "abs_rel_floor", "abs_rel_best_scale", "scale_error_median",
                                       "floor_depth_ratio_median", "floor_normal_error_deg_median")}  # fmt: skip
        summary[camera] |= {"height_m": CAMERAS[camera][0][0], "hfov_deg": CAMERAS[camera][1][0]}
    print(json.dumps(summary, indent=2))
    save("floor_scale", args, {"weights": BUNDLED_WEIGHTS.name, "summary": summary, "homes": homes}, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
