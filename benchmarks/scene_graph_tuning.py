"""How the scene-graph builder's defaults were chosen: a sweep on tuning homes, exact and learned.

Oracle perception (ground-truth depth and labels, as ``scene_graph_quality.py``) on homes 100–109, and
learned perception (the bundled weights' predictions) on homes 150–155, the validation homes of the
weights' training data; neither set holds that benchmark's test homes (200–209) or the demo's (60).
Each parameter that shapes objects or rooms is varied one at a time around the defaults; a
configuration scores the mean of four shares: the pooled object F1 (same class, centroid within 0.5 m,
one to one) and the share of homes whose room count is right, with each perception. Writes
benchmarks/results/scene_graph_tuning.json: every configuration's figures and whether the shipped
defaults score best.

    python benchmarks/scene_graph_tuning.py [--seeds 100 … 109] [--learned-seeds 150 … 155] [--frames 150]
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from provenance import machine, save

# One parameter at a time around the defaults (SceneGraphConfig); tuples set several fields together.
SWEEP = {
    "object_tolerance_m": [0.12, 0.2],
    "min_object_voxels": [10, 40],
    "max_fragment_voxels": [0, 200],
    "fragment_confidence": [0.7, 1.0],
    ("min_dilation_m", "max_dilation_m"): [(0.1, 0.8), (0.4, 0.8), (0.2, 1.2)],
    "plateau_ratio": [0.05, 0.5],
    "min_room_area_m2": [0.5, 2.0],
}


def configurations() -> dict[str, dict]:
    """name -> SceneGraphConfig overrides; "defaults" first."""
    configs = {"defaults": {}}
    for key, values in SWEEP.items():
        names = key if isinstance(key, tuple) else (key,)
        for value in values:
            value = value if isinstance(key, tuple) else (value,)
            configs[", ".join(f"{n}={v}" for n, v in zip(names, value))] = dict(zip(names, value))
    return configs


def shares(rows: list[dict]) -> dict:
    est = sum(r["objects"]["estimated"] for r in rows)
    gt = sum(r["objects"]["ground_truth"] for r in rows)
    matched = sum(r["objects"]["matched"] for r in rows)
    p, r = matched / max(est, 1), matched / max(gt, 1)
    f1 = 2 * p * r / max(p + r, 1e-12)
    rooms = sum(row["rooms"]["count_correct"] for row in rows) / len(rows)
    return {"object_precision": p, "object_recall": r, "object_f1": f1, "room_count_correct": rooms}


def score(rows: dict[str, list[dict]]) -> dict:
    """Figures of one configuration per perception, and its score: the mean of their F1s and room shares."""
    out = {perception: shares(r) for perception, r in rows.items()}
    terms = [s[key] for s in out.values() for key in ("object_f1", "room_count_correct")]
    return {**out, "score": sum(terms) / len(terms)}


def main() -> int:
    from scene_graph_quality import learned_frames
    from tqdm import tqdm

    from m2h_ros.eval.scene_graph import evaluate_rooms, match_objects, observed_instances, scene_graph_of_frames
    from m2h_ros.inference.predictor import Predictor, PredictorConfig
    from m2h_ros.scene_graph.builder import SceneGraphConfig
    from m2h_ros.synth.generate import SynthConfig, render_scene
    from m2h_ros.weights import BUNDLED_INPUT_SIZE, BUNDLED_WEIGHTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(100, 110)), help="homes, exact perception")
    parser.add_argument("--learned-seeds", type=int, nargs="+", default=list(range(150, 156)),
                        help="homes, learned perception (not trained on)")  # fmt: skip
    parser.add_argument("--frames", type=int, default=150, help="frames along each home's camera walk")
    args = parser.parse_args()
    started = machine()
    predictor = Predictor.from_checkpoint(BUNDLED_WEIGHTS, PredictorConfig(input_size=BUNDLED_INPUT_SIZE, device="cpu"))
    configs = configurations()
    rows = {name: {"oracle": [], "learned": []} for name in configs}
    homes = [(seed, "oracle") for seed in args.seeds] + [(seed, "learned") for seed in args.learned_seeds]
    for seed, perception in tqdm(homes, desc="homes", unit="home"):
        scene, frames = render_scene(seed, SynthConfig(width=320, height=240, frames_per_scene=args.frames))
        truth, seen = scene.ground_truth(seed), observed_instances(f.instances for f in frames)
        visited = {f.room for f in frames}
        if perception == "learned":
            frames = list(learned_frames(frames, predictor))
        for name, overrides in configs.items():
            graph = scene_graph_of_frames(frames, dataclasses.replace(SceneGraphConfig(), **overrides))
            objects = match_objects(graph, truth, seen)
            objects.pop("matches")
            rooms = evaluate_rooms(graph, truth, visited)
            rows[name][perception].append({"seed": seed, "objects": objects, "rooms": rooms})
    table = {name: score(r) for name, r in rows.items()}
    best = max(table, key=lambda name: table[name]["score"])
    for name, s in table.items():
        o, learned = s["oracle"], s["learned"]
        print(f"{s['score']:.3f}  oracle objects F1 {o['object_f1']:.2f} rooms {o['room_count_correct']:.0%}  learned "
              f"objects F1 {learned['object_f1']:.2f} rooms {learned['room_count_correct']:.0%}  {name}")  # fmt: skip
    summary = {"best": best, "defaults_score_best": table[best]["score"] == table["defaults"]["score"]}
    print(json.dumps(summary, indent=2))
    save("scene_graph_tuning", args, {"weights": BUNDLED_WEIGHTS.name, "summary": summary, "configurations": table,
                                      "homes": rows}, started)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
