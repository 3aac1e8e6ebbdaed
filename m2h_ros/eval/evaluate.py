"""Run a network over a dataset split and compute the pooled metrics (used by training and `m2h eval`).

Frames are normalised and padded to a multiple of the patch size at their own resolution (the InvPT
protocol pads NYUD to 448×576); padded pixels are ignore in every target.
"""

from __future__ import annotations

import torch
from tqdm import tqdm

from m2h_ros.data.nyud import MultiTaskDataset, collate, scored_classes
from m2h_ros.data.transforms import EvalTransform
from m2h_ros.errors import ConfigError
from m2h_ros.eval.metrics import MultiTaskMeter
from m2h_ros.model.m2h import MultiTaskNet, metric_depth


def convention_of(model: MultiTaskNet) -> str:
    """``m2h`` when the network has an output for void (class 0 of its label space), else ``invpt``."""
    from m2h_ros.labels import get_label_space

    n = len(get_label_space(model.config.label_space))
    if model.config.num_classes not in (n, n - 1):
        raise ConfigError(
            f"the network has {model.config.num_classes} semantic outputs, which fits neither convention of label "
            f"space {model.config.label_space!r} ({n} with void, {n - 1} without)"
        )
    return "m2h" if model.config.num_classes == n else "invpt"


def eval_dataset(model: MultiTaskNet, root, split: str = "val", file_label_space: str = "nyu40",
                 cache: bool = False) -> MultiTaskDataset:  # fmt: skip
    cfg = model.config
    return MultiTaskDataset(root, split, label_space=cfg.label_space, file_label_space=file_label_space,
                            convention=convention_of(model), transform=EvalTransform(cfg.mean, cfg.std),
                            cache=cache, need_focal=cfg.needs_focal)  # fmt: skip


@torch.no_grad()
def evaluate(model: MultiTaskNet, dataset: MultiTaskDataset, device: torch.device | str = "cpu",
             batch_size: int = 4, workers: int = 0, progress: bool = True,
             edge_protocol: str = "seism") -> dict[str, dict[str, float]]:  # fmt: skip
    """Metrics of ``model`` on ``dataset`` (built with :func:`eval_dataset`); edges by ``edge_protocol``
    (:data:`~m2h_ros.eval.edges.EDGE_PROTOCOLS`)."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    meter = MultiTaskMeter(dataset.num_classes, scored_classes(dataset.label_space, dataset.convention),
                           edge_protocol=edge_protocol)  # fmt: skip
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate)
    for batch in tqdm(loader, desc=f"evaluating {dataset.split}", unit="batch", disable=not progress, leave=False):
        out = model(batch.image.to(device))
        depth = metric_depth(out.depth, batch.focal_px.to(device), model.config.depth_focal_px)
        meter.update(
            labels=out.semseg.argmax(1), depth=depth[:, 0], normals=out.normals, edges=out.edges.sigmoid()[:, 0],
            gt_semseg=batch.semseg, gt_depth=batch.depth[:, 0], gt_normals=batch.normals, gt_edges=batch.edges[:, 0],
        )  # fmt: skip
    model.train(was_training)
    return meter.compute()


def format_metrics(m: dict[str, dict[str, float]]) -> str:
    """One line per task, the headline figure first."""
    s, d, n, e = m["semseg"], m["depth"], m["normals"], m["edges"]
    return "\n".join([
        f"semseg   mIoU {s['mIoU']:.2f}%   pixel acc {s['pixel_acc']:.2f}%",
        f"depth    RMSE {d['rmse']:.3f} m   log-RMSE {d['log_rmse']:.3f}   AbsRel {d['abs_rel']:.3f}   "
        f"SqRel {d['sq_rel']:.3f}   δ1 {d['delta1']:.1f}%   δ2 {d['delta2']:.1f}%   δ3 {d['delta3']:.1f}%",
        f"normals  mean {n['mean']:.2f}°   median {n['median']:.2f}°   RMSE {n['rmse']:.2f}°   "
        f"<11.25° {n['within_11.25']:.1f}%   <22.5° {n['within_22.5']:.1f}%   <30° {n['within_30']:.1f}%",
        f"edges    odsF {e['odsF']:.2f}%   (P {e['precision']:.1f}%, R {e['recall']:.1f}% at {e['threshold']:.3g}; "
        f"{e.get('protocol', 'fast')} protocol)",
    ])  # fmt: skip
