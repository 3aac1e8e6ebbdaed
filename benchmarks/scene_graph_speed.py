"""Scene-graph builder speed and memory, at the cloud size the shipped node publishes and a smaller one.

Clouds are back-projected from a synthetic home's camera walk (320×240, ground-truth depth and labels,
replayed in a loop). ``--strides 1 2``: 76,800 points per cloud (what the perception node publishes for
a 640×480 image at its shipped cloud stride 2) and 19,200 (stride 4 at 640×480). Per stride: integration
time per cloud (goal ≤ 30 ms), graph update time (goal ≤ 50 ms), and memory after ``--clouds`` clouds:
the voxel map's true size (arrays, hash index and its int objects, free list), everything the builder
holds as traced by tracemalloc in a second pass, and the process's RSS growth. Writes
benchmarks/results/scene_graph_speed.json.

    python benchmarks/scene_graph_speed.py [--clouds 1000] [--strides 1 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np

from provenance import machine, save


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 1e6


def replay(clouds: list, n: int, update_every: int):
    """Feed ``n`` clouds to a fresh builder; (builder, last graph, integrate ms, update ms)."""
    from m2h_ros.scene_graph.builder import SceneGraphBuilder

    builder, integrate, update, graph = SceneGraphBuilder(), [], [], None
    for i in range(n):
        points, labels, sensor = clouds[i % len(clouds)]
        t0 = time.perf_counter()
        builder.integrate(points, labels, i / 10, sensor)
        integrate.append((time.perf_counter() - t0) * 1e3)
        if i % update_every == update_every - 1:
            t0 = time.perf_counter()
            graph = builder.update(i / 10)
            update.append((time.perf_counter() - t0) * 1e3)
    return builder, graph, integrate, update


def measure(frames, stride: int, n: int, update_every: int) -> dict:
    from m2h_ros.eval.scene_graph import frame_cloud

    clouds = [(*frame_cloud(f.depth, f.labels, f.K, f.pose, stride=stride), f.pose[:3, 3]) for f in frames]
    rss0 = rss_mb()
    builder, graph, integrate, update = replay(clouds, n, update_every)
    rss_growth = rss_mb() - rss0
    timed = {
        "points_per_cloud_mean": float(np.mean([len(c[0]) for c in clouds])),
        "integrate_ms": {"mean": float(np.mean(integrate)), "p50": float(np.percentile(integrate, 50)),
                         "p95": float(np.percentile(integrate, 95))},
        "update_ms": {"mean": float(np.mean(update)), "p95": float(np.percentile(update, 95))},
        "voxels": len(builder.map), "voxel_map_mb": round(builder.map.nbytes / 1e6, 2),
        "floor_cells": len(builder.grid), "process_rss_growth_mb": round(rss_growth, 1),
        "graph": graph.counts(),
    }  # fmt: skip
    del builder, graph
    tracemalloc.start()  # a second pass: tracing slows every allocation, so it is not timed
    kept = replay(clouds, n, update_every)  # alive while the traced memory is read
    timed["builder_traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 1e6, 2)
    tracemalloc.stop()
    del kept
    return timed


def main() -> int:
    from m2h_ros.synth.generate import SynthConfig, render_scene

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clouds", type=int, default=1000)
    parser.add_argument("--strides", type=int, nargs="+", default=[1, 2], help="pixel strides of the clouds")
    parser.add_argument("--update-every", type=int, default=10, help="clouds per graph update (10 Hz in, 1 Hz out)")
    args = parser.parse_args()
    started = machine()
    _, frames = render_scene(205, SynthConfig(width=320, height=240, frames_per_scene=150))
    result = {"goal_integrate_ms": 30.0, "goal_update_ms": 50.0, "by_stride": {}}
    for stride in args.strides:
        result["by_stride"][str(stride)] = measure(frames, stride, args.clouds, args.update_every)
        print(json.dumps({"stride": stride, **result["by_stride"][str(stride)]}, indent=2), flush=True)
    save("scene_graph_speed", args, result, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
