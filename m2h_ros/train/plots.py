"""Training curves from a run's ``metrics.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path

from m2h_ros.train.losses import TASKS

# (task, figure, label) of the validation panel.
_EVAL = (("semseg", "mIoU", "mIoU %"), ("depth", "abs_rel", "depth AbsRel"), ("normals", "mean", "normal error °"),
         ("edges", "odsF", "edge odsF %"))  # fmt: skip


def plot_curves(log: str | Path, out: str | Path) -> Path:
    """Training losses per task (log scale) and the validation figures, side by side, as a PNG."""
    from m2h_ros.eval.report import pyplot, save_figure

    plt = pyplot()
    rows = [json.loads(line) for line in Path(log).read_text().splitlines() if line.strip()]
    train = [r for r in rows if r["kind"] == "train"]
    evals = [r for r in rows if r["kind"] == "eval"]
    fig, axes = plt.subplots(1, 1 + len(_EVAL), figsize=(4 * (1 + len(_EVAL)), 3.2))
    for t in TASKS:
        axes[0].plot([r["step"] for r in train], [r[t] for r in train], label=t)
    axes[0].set(title="training loss", xlabel="step", yscale="log")
    axes[0].legend(fontsize=8)
    for ax, (task, key, label) in zip(axes[1:], _EVAL):
        ax.plot([r["step"] for r in evals], [r[task][key] for r in evals], marker="o")
        ax.set(title=f"val {label}", xlabel="step")
        ax.grid(alpha=0.3)
    return save_figure(fig, out)
