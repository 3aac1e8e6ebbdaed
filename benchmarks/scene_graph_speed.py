"""Scene-graph builder speed and memory: per-cloud integration time for ~20k-point clouds (goal ≤ 30 ms),
graph update time, and memory after 1,000 clouds. Writes benchmarks/results/scene_graph_speed.json.

The clouds are back-projected from a synthetic home's camera walk (320×240, ground-truth depth and labels,
replayed in a loop) at ``--stride`` 2: 19,200 points, as the perception node publishes for a 640×480
image at cloud stride 4; ``--stride 1`` gives 76,800 (640×480 at the shipped stride 2).

    python benchmarks/scene_graph_speed.py [--clouds 1000] [--stride 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 1e6


def main() -> int:
    from m2h_ros.eval.scene_graph import frame_cloud
    from m2h_ros.scene_graph.builder import SceneGraphBuilder
    from m2h_ros.synth.generate import SynthConfig, render_scene

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clouds", type=int, default=1000)
    parser.add_argument("--stride", type=int, default=2, help="pixel stride of the clouds")
    parser.add_argument("--update-every", type=int, default=10, help="clouds per graph update (10 Hz in, 1 Hz out)")
    args = parser.parse_args()
    _, frames = render_scene(205, SynthConfig(width=320, height=240, frames_per_scene=150))
    clouds = [(*frame_cloud(f.depth, f.labels, f.K, f.pose, stride=args.stride), f.pose[:3, 3]) for f in frames]
    builder = SceneGraphBuilder()
    integrate, update, sizes = [], [], []
    rss0 = rss_mb()
    for i in range(args.clouds):
        points, labels, sensor = clouds[i % len(clouds)]
        t0 = time.perf_counter()
        builder.integrate(points, labels, i / 10, sensor)
        integrate.append((time.perf_counter() - t0) * 1e3)
        sizes.append(len(points))
        if i % args.update_every == args.update_every - 1:
            t0 = time.perf_counter()
            graph = builder.update(i / 10)
            update.append((time.perf_counter() - t0) * 1e3)
    result = {
        "clouds": args.clouds, "stride": args.stride, "points_per_cloud_mean": float(np.mean(sizes)),
        "integrate_ms": {"mean": float(np.mean(integrate)), "p50": float(np.percentile(integrate, 50)),
                         "p95": float(np.percentile(integrate, 95))},
        "update_ms": {"mean": float(np.mean(update)), "p95": float(np.percentile(update, 95))},
        "goal_integrate_ms": 30.0,
        "voxels": len(builder.map), "voxel_map_mb": builder.map.nbytes / 1e6, "floor_cells": len(builder.grid),
        "rss_growth_mb": rss_mb() - rss0,
        "graph": graph.counts(),
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"scene_graph_speed{'' if args.stride == 2 else f'_stride{args.stride}'}.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
