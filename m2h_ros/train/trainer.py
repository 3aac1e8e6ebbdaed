"""Training: AdamW with a poly schedule (MTMamba's recipe), periodic evaluation, best/last checkpoints.

Runs on one device, or on several under ``torchrun`` (DDP; rank 0 evaluates, logs and saves). Every run
directory holds::

    config.yaml             the resolved configuration
    last.safetensors        the network after the latest evaluation (a normal checkpoint)
    best.safetensors        the network with the best selection score so far
    resume.safetensors      optimiser state, step and weighting history for ``resume: true``
    metrics.jsonl           one JSON object per log line (kind: train | eval)
    curves.png              losses and validation figures over the run
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.distributed as dist
import yaml
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from m2h_ros.config import check, to_dict
from m2h_ros.data.nyud import Convention, MultiTaskDataset, collate, num_outputs
from m2h_ros.data.transforms import AugmentConfig, TrainTransform
from m2h_ros.errors import DataError
from m2h_ros.eval.evaluate import eval_dataset, evaluate, format_metrics
from m2h_ros.eval.metrics import delta_m
from m2h_ros.inference.predictor import resolve_device
from m2h_ros.model.build import build_model, variant_config
from m2h_ros.model.checkpoint import save_checkpoint
from m2h_ros.model.loading import load_state_dict_strict, read_safetensors
from m2h_ros.train.losses import TASKS, TaskWeighting, task_losses


@dataclass
class DataConfig:
    root: Path = Path("data/synthetic")
    extra_train_roots: list[Path] = field(default_factory=list)  # their train_split joins root's (same layout)
    train_split: str = "train"
    val_split: str = "val"
    file_label_space: str = "nyu40"  # the ids in segmentation/*.png
    convention: Convention = "m2h"
    cache: bool = True  # keep decoded frames in memory

    @property
    def train_roots(self) -> list[Path]:
        return [self.root, *self.extra_train_roots]


@dataclass
class LossConfig:
    weighting: Literal["fixed", "log", "dwa"] = "log"
    weights: dict[str, float] = field(default_factory=dict)  # per task, default 1
    edge_pos_weight: float = 0.95
    dwa_temperature: float = 2.0
    dwa_window: int = 100

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(TASKS)
        check(not unknown, "weights", f"has unknown tasks {sorted(unknown)}; tasks: {', '.join(TASKS)}")


@dataclass
class TrainConfig:
    variant: str = "m2h_lite"
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig overrides of the variant
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    init_weights: Path | None = None  # start from this checkpoint's network (fine-tuning); optimiser fresh
    out_dir: Path = Path("runs/m2h_lite")
    iterations: int = 50_000
    batch_size: int = 8  # per process
    lr: float = 1e-4
    backbone_lr_scale: float = (
        1.0  # the backbone's learning rate relative to lr (below 1: fine-tune pretrained weights gently)
    )
    weight_decay: float = 1e-5
    poly_power: float = 0.9
    grad_clip: float = 0.0  # max gradient norm; 0 = off (as MTMamba)
    amp: bool = True  # bfloat16 autocast; CUDA only
    workers: int = 2
    eval_every: int = 1000
    log_every: int = 20
    resume: bool = False
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = 0  # CPU threads for torch (0: library default)
    # Best checkpoint: highest Δm against these reference figures (MTMamba's count_improvement idea).
    reference: dict[str, float] = field(default_factory=lambda: {
        "semseg.mIoU": 50.0, "depth.rmse": 0.5, "normals.mean": 25.0, "edges.odsF": 50.0})  # fmt: skip

    def __post_init__(self) -> None:
        for key in ("iterations", "batch_size", "eval_every", "log_every"):
            check(getattr(self, key) > 0, key, f"must be > 0, got {getattr(self, key)}")
        check(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        check(self.backbone_lr_scale > 0, "backbone_lr_scale", f"must be > 0, got {self.backbone_lr_scale}")
        check(self.grad_clip >= 0, "grad_clip", "must be >= 0 (0 = off)")
        variant_config(self.variant, **self.model)  # fails early on unknown variants and bad overrides


def _reference(cfg: TrainConfig) -> dict[str, dict[str, float]]:
    ref: dict[str, dict[str, float]] = {}
    for key, value in cfg.reference.items():
        task, name = key.split(".", 1)
        ref.setdefault(task, {})[name] = value
    return ref


def poly_lr(base: float, step: int, total: int, power: float) -> float:
    return base * max(0.0, 1 - step / total) ** power


class _Distributed:
    """torchrun's environment, or a single process."""

    def __init__(self, device: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = resolve_device(device)
        if self.device.type == "cuda":
            self.device = torch.device("cuda", local)
            torch.cuda.set_device(self.device)
        if self.world > 1:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def close(self) -> None:
        if self.world > 1:
            dist.destroy_process_group()


def _save_resume(path: Path, optimizer: torch.optim.Optimizer, step: int, weighting: TaskWeighting,
                 best: float, seconds: float) -> None:  # fmt: skip
    """Optimiser tensors and the RNG states as safetensors; everything else (step, groups, scalars,
    Python's RNG) as JSON metadata, so that a resumed run continues the random streams it left."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, slots in state["state"].items():
        for name, value in slots.items():
            if torch.is_tensor(value) and value.ndim > 0:
                tensors[f"{idx}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{name}"] = float(value)
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    meta = {"step": step, "best": best, "seconds": seconds, "param_groups": state["param_groups"],
            "scalars": scalars, "weighting": weighting.state_dict(), "rng_python": random.getstate()}  # fmt: skip
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"resume": json.dumps(meta)})
    tmp.replace(path)


def _load_resume(path: Path, optimizer: torch.optim.Optimizer,
                 weighting: TaskWeighting) -> tuple[int, float, float]:  # fmt: skip
    """Restore the optimiser, the weighting and the RNG states; returns (step, best score, training
    seconds so far)."""
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["resume"])
    tensors = load_file(str(path))
    rng_torch, rng_cuda = tensors.pop("rng.torch", None), tensors.pop("rng.cuda", None)
    if rng_torch is not None:
        torch.set_rng_state(rng_torch)
    if rng_cuda is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng_cuda)
    if "rng_python" in meta:
        version, internal, gauss = meta["rng_python"]
        random.setstate((version, tuple(internal), gauss))
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    for key, value in meta["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = torch.tensor(value)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    weighting.load_state_dict(meta["weighting"])
    return int(meta["step"]), float(meta["best"]), float(meta.get("seconds", 0.0))


def _batches(loader: torch.utils.data.DataLoader, sampler):
    """An endless stream of batches, reshuffled every pass."""
    epoch = 0
    while True:
        if sampler is not None:
            sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def train(cfg: TrainConfig, progress: bool = True) -> dict[str, Any]:
    """Train as configured; returns the final evaluation and where the checkpoints are."""
    env = _Distributed(cfg.device)
    try:
        return _train(cfg, env, progress and env.main)
    finally:
        env.close()


def _train(cfg: TrainConfig, env: _Distributed, progress: bool) -> dict[str, Any]:
    torch.manual_seed(cfg.seed + env.rank)
    random.seed(cfg.seed + env.rank)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    model = _build(cfg).to(env.device)
    train_set, loader, sampler, val_set = _data(cfg, env, model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = _optimizer(cfg, model, params)
    weighting = TaskWeighting(cfg.loss.weighting, cfg.loss.weights, cfg.loss.dwa_temperature, cfg.loss.dwa_window)
    step, best, seconds_before = 0, -float("inf"), 0.0
    if env.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    if cfg.resume and (out / "resume.safetensors").is_file():  # continues from its own checkpoint
        last = out / "last.safetensors"
        load_state_dict_strict(model, load_file(str(last), device=str(env.device)), str(last))
        step, best, seconds_before = _load_resume(out / "resume.safetensors", optimizer, weighting)
    else:
        if cfg.resume and env.main:
            print(f"resume: no {out / 'resume.safetensors'} yet; starting at step 0", flush=True)
        if cfg.init_weights is not None:
            load_state_dict_strict(model, read_safetensors(cfg.init_weights, str(env.device)), str(cfg.init_weights))
    net = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=False) if env.world > 1 else model
    # A resumed run continues its log; a new run in the same directory starts a new one.
    log = (out / "metrics.jsonl").open("a" if step else "w") if env.main else None
    d = cfg.data
    training_data = {"dataset": ", ".join(map(str, d.train_roots)), "split": d.train_split,
                     "frames": len(train_set), "convention": d.convention,
                     "crop_size": list(cfg.augment.crop_size)}  # fmt: skip
    bar = tqdm(total=cfg.iterations, initial=step, desc="training", unit="step", disable=not progress)
    running = {t: 0.0 for t in TASKS}
    n_running, t0 = 0, time.perf_counter() - seconds_before  # seconds count every stretch of a resumed run
    last_metrics: dict = {}
    model.train()
    batches = _batches(loader, sampler)
    while step < cfg.iterations:
        lr = poly_lr(cfg.lr, step, cfg.iterations, cfg.poly_power)
        losses = _step(cfg, env, net, optimizer, weighting, params, next(batches), lr, step)
        step += 1
        running = {t: running[t] + losses[t] for t in TASKS}
        n_running += 1
        bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.iterations:
            row = {"kind": "train", "step": step, "lr": lr, "seconds": time.perf_counter() - t0,
                   **{t: running[t] / n_running for t in TASKS}}  # fmt: skip
            bar.set_postfix({t[:4]: f"{row[t]:.3f}" for t in TASKS})
            _log(log, row)
            running, n_running = {t: 0.0 for t in TASKS}, 0
        if env.main and (step % cfg.eval_every == 0 or step == cfg.iterations):
            # Checkpoint selection only: the fast edge protocol, since SEISM's per-threshold matching
            # would add minutes to every evaluation. `m2h eval` scores the chosen weights by SEISM's.
            last_metrics = evaluate(model, val_set, env.device, progress=progress, edge_protocol="fast")
            score = delta_m(last_metrics, _reference(cfg))
            _log(log, {"kind": "eval", "step": step, "delta_m": score, **last_metrics})
            header = {**training_data, "steps": step, "seconds": round(time.perf_counter() - t0, 1)}
            metrics = {"split": d.val_split, **last_metrics}
            save_checkpoint(model, out / "last.safetensors", training_data=header, metrics=metrics)
            if score > best:
                best = score
                save_checkpoint(model, out / "best.safetensors", training_data=header, metrics=metrics)
            _save_resume(out / "resume.safetensors", optimizer, step, weighting, best, time.perf_counter() - t0)
            bar.write(f"step {step}: Δm vs reference {score:+.1f}%\n{format_metrics(last_metrics)}")
    bar.close()
    if log:
        log.close()
        from m2h_ros.train.plots import plot_curves

        plot_curves(out / "metrics.jsonl", out / "curves.png")
    return {"metrics": last_metrics, "best": str(out / "best.safetensors"), "last": str(out / "last.safetensors")}


def _build(cfg: TrainConfig) -> torch.nn.Module:
    model_cfg = variant_config(cfg.variant, **cfg.model)
    expected = num_outputs(model_cfg.label_space, cfg.data.convention)
    check(model_cfg.num_classes == expected, "model.num_classes",
          f"is {model_cfg.num_classes} but label space {model_cfg.label_space!r} with convention "
          f"{cfg.data.convention!r} needs {expected}")  # fmt: skip
    return build_model(model_cfg)


def _data(cfg: TrainConfig, env: _Distributed, model: torch.nn.Module):
    """(training set, its loader, its distributed sampler or None, validation set on the main process)."""
    d, model_cfg = cfg.data, model.config
    transform = TrainTransform(cfg.augment, model_cfg.mean, model_cfg.std)
    train_set = torch.utils.data.ConcatDataset([
        MultiTaskDataset(root, d.train_split, label_space=model_cfg.label_space, file_label_space=d.file_label_space,
                         convention=d.convention, transform=transform, cache=d.cache, need_focal=model_cfg.needs_focal)
        for root in d.train_roots
    ])  # fmt: skip
    sampler = torch.utils.data.DistributedSampler(train_set, seed=cfg.seed) if env.world > 1 else None
    loader = torch.utils.data.DataLoader(
        train_set, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler, drop_last=True,
        num_workers=cfg.workers, collate_fn=collate, persistent_workers=cfg.workers > 0,
        pin_memory=env.device.type == "cuda",
    )  # fmt: skip
    if len(loader) == 0:
        raise DataError(f"{', '.join(map(str, d.train_roots))}: split {d.train_split!r} has {len(train_set)} frames, "
                        f"fewer than batch_size {cfg.batch_size}")  # fmt: skip
    val_set = eval_dataset(model, d.root, d.val_split, d.file_label_space, cache=d.cache) if env.main else None
    return train_set, loader, sampler, val_set


def _optimizer(cfg: TrainConfig, model: torch.nn.Module, params: list) -> torch.optim.Optimizer:
    """AdamW with the backbone's parameters in a group of their own (its learning rate × backbone_lr_scale)."""
    backbone = {id(p) for p in model.backbone.parameters()}
    groups = [{"params": [p for p in params if id(p) in backbone], "lr_scale": cfg.backbone_lr_scale},
              {"params": [p for p in params if id(p) not in backbone], "lr_scale": 1.0}]  # fmt: skip
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr, weight_decay=cfg.weight_decay)


def _step(cfg: TrainConfig, env: _Distributed, net, optimizer, weighting: TaskWeighting, params: list, batch,
          lr: float, step: int) -> dict[str, float]:  # fmt: skip
    """One optimisation step at learning rate ``lr``; returns each task's loss."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_scale"]
    batch = dataclasses.replace(batch, **{k: getattr(batch, k).to(env.device, non_blocking=True)
                                          for k in ("image", "focal_px", *TASKS)})  # fmt: skip
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cfg.amp and env.device.type == "cuda"):
        outputs = net(batch.image)
    outputs = type(outputs)(*(o.float() for o in outputs))
    losses = task_losses(outputs, batch, cfg.loss.edge_pos_weight, getattr(net, "module", net).config.depth_focal_px)
    loss = weighting(losses)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite loss at step {step}: { {k: float(v) for k, v in losses.items()} }")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
    optimizer.step()
    return {t: float(losses[t].detach()) for t in TASKS}


def _log(log, row: dict) -> None:
    if log:
        log.write(json.dumps(row) + "\n")
        log.flush()
