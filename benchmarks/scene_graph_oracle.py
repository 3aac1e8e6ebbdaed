"""Scene-graph quality with oracle perception (ground-truth depth and labels) on held-out synthetic homes.

Goals: object precision and recall ≥ 0.85 (same class, centroid within 0.5 m, one-to-one), right room
count in ≥ 80% of homes. The builder's defaults were chosen on homes 100–109; the default test homes are
200–209. Writes benchmarks/results/scene_graph_oracle.json.

    python benchmarks/scene_graph_oracle.py [--seeds 200 201 ...] [--frames 150]
"""

from __future__ import annotations

import argparse
import json

from provenance import machine, save


def main() -> int:
    from tqdm import tqdm

    from m2h_ros.eval.scene_graph import evaluate_rooms, match_objects, observed_instances, oracle_scene_graph
    from m2h_ros.synth.generate import SynthConfig, render_scene

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(200, 210)))
    parser.add_argument("--frames", type=int, default=150, help="frames along each home's camera walk")
    args = parser.parse_args()
    started = machine()
    rows = []
    for seed in tqdm(args.seeds, desc="homes", unit="home"):
        scene, frames = render_scene(seed, SynthConfig(width=320, height=240, frames_per_scene=args.frames))
        truth = scene.ground_truth(seed)
        graph = oracle_scene_graph(frames)
        objects = match_objects(graph, truth, observed_instances(f.instances for f in frames))
        objects.pop("matches")
        rooms = evaluate_rooms(graph, truth, {f.room for f in frames})
        rows.append({"seed": seed, "frames": len(frames), "objects": objects, "rooms": rooms})
        tqdm.write(f"home {seed}: objects P {objects['precision']:.2f} R {objects['recall']:.2f} "
                   f"({objects['matched']}/{objects['estimated']} est, {objects['ground_truth']} seen), rooms "
                   f"{rooms['estimated']}/{rooms['ground_truth']}, assignment {rooms['assignment_accuracy']:.2f}")  # fmt: skip
    est = sum(r["objects"]["estimated"] for r in rows)
    gt = sum(r["objects"]["ground_truth"] for r in rows)
    matched = sum(r["objects"]["matched"] for r in rows)
    summary = {
        "homes": len(rows), "object_precision": matched / max(est, 1), "object_recall": matched / max(gt, 1),
        "room_count_correct": sum(r["rooms"]["count_correct"] for r in rows) / len(rows),
        "room_assignment_accuracy": sum(r["rooms"]["assignment_accuracy"] for r in rows) / len(rows),
    }  # fmt: skip
    print(json.dumps(summary, indent=2))
    save("scene_graph_oracle", args, {"summary": summary, "homes": rows}, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
