"""Evaluation reports: report.json, report.md and the figures (contact sheet, latency histogram,
top-down scene graph over the ground-truth floor plan). Plain numpy/matplotlib; no ROS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from m2h_ros.labels import LabelSpace
from m2h_ros.scene_graph.graph import OBJECTS, PLACES, ROOMS, SceneGraph
from m2h_ros.synth.writers import colorize_depth


@dataclass
class SheetRow:
    """One frame of the contact sheet: the input, predictions and (optional) ground truth."""

    rgb: np.ndarray
    depth: np.ndarray
    labels: np.ndarray
    normals: np.ndarray
    edges: np.ndarray
    gt_depth: np.ndarray | None = None
    gt_labels: np.ndarray | None = None


def _normals_rgb(n: np.ndarray) -> np.ndarray:
    return ((np.nan_to_num(n) * 0.5 + 0.5) * 255).clip(0, 255).astype(np.uint8)


def contact_sheet(rows: list[SheetRow], space: LabelSpace, path: Path) -> Path:
    """Per frame: RGB | depth | semantics | normals | edges [| GT depth | GT semantics | depth error |
    semantic errors (red)]. Depth and its error share one colour scale per frame."""
    lines = []
    for r in rows:
        gt_valid = np.isfinite(r.gt_depth) & (r.gt_depth > 0) if r.gt_depth is not None else None
        vmax = float(np.nanpercentile(r.gt_depth[gt_valid], 99)) if gt_valid is not None and gt_valid.any() else None
        depth = np.nan_to_num(r.depth)
        tiles = [r.rgb, colorize_depth(depth, vmax), space.colorize(r.labels), _normals_rgb(r.normals),
                 np.repeat((np.clip(r.edges, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2)]  # fmt: skip
        if r.gt_depth is not None:
            gt = np.where(gt_valid, r.gt_depth, 0)
            err = np.where(gt_valid, np.abs(depth - gt), 0)
            tiles += [colorize_depth(gt, vmax), colorize_depth(err, vmax)]
        if r.gt_labels is not None:
            wrong = (r.gt_labels >= 0) & (r.labels != r.gt_labels)
            errors = (r.rgb * 0.4).astype(np.uint8)
            errors[wrong] = (230, 30, 30)
            tiles += [space.colorize(r.gt_labels), errors]
        lines.append(np.concatenate(tiles, axis=1))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(lines, axis=0)).save(path)
    return path


def pyplot():
    """matplotlib.pyplot drawing off screen (nodes and CI have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    return Path(path)


def latency_histogram(latencies_ms: list[float], path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist(latencies_ms, bins=30, color="#3a7bd5")
    for q, style in ((50, "-"), (95, "--")):
        v = np.percentile(latencies_ms, q)
        ax.axvline(v, color="k", linestyle=style, label=f"p{q} {v:.0f} ms")
    ax.set(xlabel="image in → depth out (ms)", ylabel="frames", title="end-to-end latency")
    ax.legend()
    return save_figure(fig, path)


def scene_graph_plot(graph: SceneGraph, truth: dict | None, space: LabelSpace, path: Path) -> Path:
    """Top view: ground-truth rooms and objects (grey), estimated places coloured by room, rooms and
    objects (label colours, boxes)."""
    from matplotlib.patches import Rectangle

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 7))
    if truth:
        for r in truth["rooms"]:
            p = np.array([*r["polygon"], r["polygon"][0]])
            ax.plot(p[:, 0], p[:, 1], color="0.3", lw=2)
        for o in truth["objects"]:
            lo, hi = np.array(o["aabb_min"]), np.array(o["aabb_max"])
            ax.add_patch(Rectangle(lo[:2], *(hi - lo)[:2], fc="none", ec="0.6", lw=0.8, ls=":"))
    room_of = graph.parents(ROOMS)
    rooms = sorted(n.id for n in graph.layer(ROOMS))
    cmap = plt.get_cmap("tab10")
    places = graph.layer(PLACES)
    if places:
        xy = np.array([p.position[:2] for p in places])
        colors = [cmap(rooms.index(room_of[p.id]) % 10) if p.id in room_of else (0.7, 0.7, 0.7, 1) for p in places]
        ax.scatter(xy[:, 0], xy[:, 1], s=8, c=colors, alpha=0.6)
    for i, rid in enumerate(rooms):
        n = graph.nodes[rid]
        ax.scatter(*n.position[:2], s=250, color=cmap(i % 10), marker="*", edgecolor="k", zorder=5)
        ax.annotate(n.name, n.position[:2], xytext=(6, 6), textcoords="offset points", weight="bold")
    for n in graph.layer(OBJECTS):
        lo, hi = np.array(n.bbox_min), np.array(n.bbox_max)
        color = np.array(space.colors[n.label]) / 255 if 0 <= n.label < len(space) else (0.5, 0.5, 0.5)
        ax.add_patch(Rectangle(lo[:2], *(hi - lo)[:2], fc=(*color, 0.35), ec=color, lw=1.2))
        ax.annotate(n.name, n.position[:2], fontsize=6, ha="center")
    ax.set_aspect("equal")
    ax.set(xlabel="x (m)", ylabel="y (m)", title="scene graph (colour) over the ground truth (grey)")
    ax.autoscale_view()
    return save_figure(fig, path)


def _fmt(v, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def write_report(out_dir: Path, report: dict) -> tuple[Path, Path]:
    """report.json (everything) and report.md (headline figures, tables and the figures)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    t = report["timing"]
    md = [f"# Evaluation of `{report['bag']}`", "", f"Weights: `{report.get('weights', '')}`. "
          f"Frames sent: {t['frames_sent']}, answered: {t['frames_answered']}.", ""]  # fmt: skip
    if report.get("notes"):
        md += ["## Notes", "", *[f"- {n}" for n in report["notes"]], ""]
    md += ["## Timing", "", "| figure | value |", "|---|---|"]
    md += [f"| {k} | {_fmt(v, 1)} |" for k, v in t.items()]
    md += ["", "![latency](latency.png)", ""]
    if report.get("metrics"):
        md += ["## Per-task metrics (pooled over the frames)", "", "| task | figure | value |", "|---|---|---|"]
        for task, values in report["metrics"].items():
            md += [f"| {task} | {k} | {_fmt(v)} |" for k, v in values.items()]
        md += ["", "![contact sheet](contact_sheet.png)", ""]
    if report.get("scene_graph"):
        md += ["## Scene graph", "", "| figure | value |", "|---|---|"]
        for section, values in report["scene_graph"].items():
            md += [f"| {section} {k} | {_fmt(v)} |" for k, v in values.items() if not isinstance(v, list)]
        md += ["", "![scene graph](scene_graph.png)", ""]
    (out_dir / "report.md").write_text("\n".join(md) + "\n")
    return out_dir / "report.md", out_dir / "report.json"


def headline(report: dict) -> str:
    """The report's main figures in a few lines."""
    t = report["timing"]
    lines = [f"frames: {t['frames_sent']} sent, {t['frames_answered']} answered ({t['drop_rate']:.0%} dropped); "
             f"latency p50 {t['latency_p50_ms']:.0f} ms, p95 {t['latency_p95_ms']:.0f} ms; "
             f"{t['throughput_hz']:.1f} frames/s"]  # fmt: skip
    if "metrics" in report:
        m = report["metrics"]
        lines.append(f"semantic mIoU {m['semseg']['mIoU']:.1f}%  depth AbsRel {m['depth']['abs_rel']:.3f} "
                     f"RMSE {m['depth']['rmse']:.2f} m  normals mean {m['normals']['mean']:.1f}°  "
                     f"edges odsF {m['edges']['odsF']:.1f}% ({m['edges']['protocol']})")  # fmt: skip
        if "floor_scale" in m:
            lines.append(f"floor scale: error {m['floor_scale']['error_median']:.1%} (median of "
                         f"{m['floor_scale']['frames']} frames); depth AbsRel {m['depth_before_scale']['abs_rel']:.3f} "
                         f"before it, {m['depth']['abs_rel']:.3f} after")  # fmt: skip
    sg = report.get("scene_graph", {})
    if "objects" in sg:
        o, r = sg["objects"], sg["rooms"]
        lines.append(f"scene graph: objects P {o['precision']:.2f} R {o['recall']:.2f} "
                     f"({o['estimated']} found, {o['ground_truth']} seen); rooms {r['estimated']} of {r['ground_truth']}, "
                     f"room P {r['precision']:.2f} R {r['recall']:.2f}")  # fmt: skip
    lines += [f"note: {n}" for n in report.get("notes", [])]
    return "\n".join(lines)


def prediction_summary(depth: np.ndarray, labels: np.ndarray, space: LabelSpace, classes: int = 4) -> str:
    """Depth percentiles and the classes covering most of one prediction, in a line."""
    ids, counts = np.unique(labels, return_counts=True)
    top = sorted(zip(ids, counts), key=lambda x: -x[1])[:classes]
    lo, mid, hi = np.percentile(depth, [5, 50, 95])
    return (f"depth {lo:.2f} / {mid:.2f} / {hi:.2f} m (5th / 50th / 95th percentile); "
            + ", ".join(f"{space.names[i]} {c / labels.size:.0%}" for i, c in top))  # fmt: skip
