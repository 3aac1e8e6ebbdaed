"""Scene-graph quality on held-out synthetic homes, from exact and from learned perception, side by side.

For each home the same camera walk is turned into clouds twice: from the renderer's ground-truth depth
and labels (oracle perception), and from the bundled weights' predictions on the rendered images at
the perception node's input size (learned perception). Scores: object precision and recall (same
class, centroid within 0.5 m, one to one; also within 1 m, which tells misplaced objects from invented
ones), the room count, room-assignment accuracy and room precision and recall by overlap
(``m2h_ros/eval/scene_graph.py``). Goals with oracle perception: object P and R ≥
0.85, the right room count in ≥ 80% of homes. The builder's defaults were chosen on homes 100–109
(``scene_graph_tuning.py``); the default test homes are 200–209. Writes
benchmarks/results/scene_graph_quality.json.

    python benchmarks/scene_graph_quality.py [--seeds 200 201 ...] [--frames 150]
"""

from __future__ import annotations

import argparse
import json

from provenance import machine, save

PERCEPTIONS = ("oracle", "learned")


def summarize(rows: list[dict]) -> dict:
    est = sum(r["objects"]["estimated"] for r in rows)
    gt = sum(r["objects"]["ground_truth"] for r in rows)
    matched = sum(r["objects"]["matched"] for r in rows)
    matched_1m = sum(r["objects_within_1m"]["matched"] for r in rows)
    mean = lambda key: sum(r["rooms"][key] for r in rows) / len(rows)  # noqa: E731
    return {"homes": len(rows), "object_precision": matched / max(est, 1), "object_recall": matched / max(gt, 1),
            "object_precision_within_1m": matched_1m / max(est, 1), "object_recall_within_1m": matched_1m / max(gt, 1),
            "room_count_correct": mean("count_correct"), "room_assignment_accuracy": mean("assignment_accuracy"),
            "room_precision": mean("precision"), "room_recall": mean("recall")}  # fmt: skip


def learned_frames(frames, predictor):
    """The frames with the network's depth and labels in place of the renderer's."""
    import dataclasses

    for f in frames:
        pred = predictor.predict(f.rgb, float(f.K[0, 0]))
        yield dataclasses.replace(f, depth=pred.depth, labels=pred.labels)


def main() -> int:
    from tqdm import tqdm

    from m2h_ros.eval.scene_graph import evaluate_rooms, match_objects, observed_instances, scene_graph_of_frames
    from m2h_ros.inference.predictor import Predictor, PredictorConfig
    from m2h_ros.synth.generate import SynthConfig, render_scene
    from m2h_ros.weights import BUNDLED_INPUT_SIZE, BUNDLED_WEIGHTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(200, 210)))
    parser.add_argument("--frames", type=int, default=150, help="frames along each home's camera walk")
    args = parser.parse_args()
    started = machine()
    predictor = Predictor.from_checkpoint(BUNDLED_WEIGHTS, PredictorConfig(input_size=BUNDLED_INPUT_SIZE, device="cpu"))
    rows = {p: [] for p in PERCEPTIONS}
    for seed in tqdm(args.seeds, desc="homes", unit="home"):
        scene, frames = render_scene(seed, SynthConfig(width=320, height=240, frames_per_scene=args.frames))
        truth, seen = scene.ground_truth(seed), observed_instances(f.instances for f in frames)
        for perception in PERCEPTIONS:
            graph = scene_graph_of_frames(frames if perception == "oracle" else list(learned_frames(frames, predictor)))
            objects, within_1m = (match_objects(graph, truth, seen, radius=r) for r in (0.5, 1.0))
            objects.pop("matches")
            within_1m = {k: within_1m[k] for k in ("matched", "precision", "recall")}
            rooms = evaluate_rooms(graph, truth, {f.room for f in frames})
            rows[perception].append({"seed": seed, "frames": len(frames), "objects": objects,
                                     "objects_within_1m": within_1m, "rooms": rooms})  # fmt: skip
            tqdm.write(f"home {seed} {perception}: objects P {objects['precision']:.2f} R {objects['recall']:.2f} "
                       f"({objects['matched']}/{objects['estimated']} est, {objects['ground_truth']} seen), rooms "
                       f"{rooms['estimated']}/{rooms['ground_truth']}, room P {rooms['precision']:.2f} "
                       f"R {rooms['recall']:.2f}")  # fmt: skip
    result = {p: {"summary": summarize(rows[p]), "homes": rows[p]} for p in PERCEPTIONS}
    print(json.dumps({p: result[p]["summary"] for p in PERCEPTIONS}, indent=2))
    save("scene_graph_quality", args, {"weights": BUNDLED_WEIGHTS.name, **result}, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
