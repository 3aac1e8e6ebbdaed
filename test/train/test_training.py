"""Training end to end on a tiny synthetic dataset: losses fall, checkpoints and logs appear, runs
resume, `m2h eval` reproduces the figures stored in a checkpoint, and DDP runs under torchrun."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
import yaml

from m2h_ros.config import from_dict, to_dict
from m2h_ros.errors import DataError
from m2h_ros.model.build import build_model
from m2h_ros.model.checkpoint import read_header
from m2h_ros.train.losses import TASKS
from m2h_ros.train.trainer import TrainConfig, train

# A small m2h_lite: the real modules at a width and input size that train in seconds on a CPU. One
# thread: on a busy machine two threads wait on each other at every operation (4x slower per step).
TINY_MODEL = {"channels": 32, "head_channels": [16]}


def tiny_config(root, out_dir, **overrides) -> TrainConfig:
    cfg = {
        "variant": "m2h_lite", "model": TINY_MODEL,
        "data": {"root": str(root), "cache": True},
        "augment": {"crop_size": [56, 70], "scale": [0.6, 0.8]},
        "loss": {"weighting": "fixed", "weights": {"edges": 20.0}},
        "out_dir": str(out_dir), "iterations": 20, "batch_size": 4, "lr": 2e-3, "weight_decay": 1e-4,
        "grad_clip": 1.0, "workers": 0, "eval_every": 10, "log_every": 10, "threads": 1, "device": "cpu",
    }  # fmt: skip
    cfg.update(overrides)
    return from_dict(TrainConfig, cfg)


def _log(out_dir):
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_a_few_hundred_steps_lower_every_task_loss(tiny_dataset, tmp_path):
    torch.manual_seed(0)
    result = train(tiny_config(tiny_dataset, tmp_path, iterations=300, eval_every=300), progress=False)
    rows = [r for r in _log(tmp_path) if r["kind"] == "train"]
    first, last = rows[0], rows[-1]
    assert first["step"] == 10 and last["step"] == 300
    for task in TASKS:
        assert last[task] < 0.8 * first[task], f"{task} loss went from {first[task]:.3f} to {last[task]:.3f}"
    assert result["metrics"]["semseg"]["mIoU"] > 0
    assert (tmp_path / "curves.png").stat().st_size > 10_000


def test_checkpoints_log_and_resume(tiny_dataset, tmp_path):
    train(tiny_config(tiny_dataset, tmp_path, iterations=20, eval_every=10), progress=False)
    for name in ("best.safetensors", "last.safetensors", "resume.safetensors", "config.yaml", "metrics.jsonl"):
        assert (tmp_path / name).is_file(), name
    header = read_header(tmp_path / "last.safetensors")
    assert header["training_data"]["steps"] == 20 and header["metrics"]["split"] == "val"
    assert [r["step"] for r in _log(tmp_path) if r["kind"] == "eval"] == [10, 20]
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["iterations"] == 20
    # resume: continues from step 20 with the saved optimiser state, up to the new total
    first_stretch = header["training_data"]["seconds"]
    train(tiny_config(tiny_dataset, tmp_path, iterations=30, eval_every=10, resume=True), progress=False)
    steps = [r["step"] for r in _log(tmp_path) if r["kind"] == "train"]
    assert steps == [10, 20, 30]
    resumed = read_header(tmp_path / "last.safetensors")["training_data"]
    assert resumed["steps"] == 30
    # the header's time sums both stretches (the second alone, 10 steps, is shorter than the first's 20)
    assert resumed["seconds"] > first_stretch


def test_init_weights_start_a_canonical_camera_run_from_a_metric_checkpoint(tiny_dataset, tmp_path):
    """Fine-tuning: the network starts as the checkpoint (a learning rate too small to move it keeps its
    parameters; batch-norm statistics still move) and carries the new config."""
    from m2h_ros.model.checkpoint import load_checkpoint
    from m2h_ros.model.loading import read_safetensors

    train(tiny_config(tiny_dataset, tmp_path / "first", iterations=10, eval_every=10), progress=False)
    start = tmp_path / "first" / "last.safetensors"
    cfg = tiny_config(tiny_dataset, tmp_path / "second", iterations=2, eval_every=2, lr=1e-12, init_weights=str(start),
                      model={**TINY_MODEL, "depth_focal_px": 100.0})  # fmt: skip
    result = train(cfg, progress=False)
    tuned, initial = load_checkpoint(result["last"]), read_safetensors(start)
    assert tuned.config.depth_focal_px == 100.0
    for name, value in tuned.named_parameters():
        assert torch.allclose(value, initial[name].float(), atol=1e-6), name
    fresh = build_model(tuned.config, init_backbone=False).state_dict()
    assert not all(torch.equal(fresh[k], initial[k].float()) for k in initial)  # the checkpoint is not a new network


def test_extra_train_roots_join_the_training_set_and_are_recorded(tiny_dataset, tmp_path):
    """A second dataset's train split trains beside the first; validation stays on the first root's."""
    from m2h_ros.synth.generate import SynthConfig, generate_dataset

    more = tmp_path / "more"
    generate_dataset(more, [3], SynthConfig(width=112, height=84, frames_per_scene=6), workers=1, val_fraction=0,
                     progress=False)  # fmt: skip
    cfg = tiny_config(tiny_dataset, tmp_path / "run", iterations=2, eval_every=2,
                      data={"root": str(tiny_dataset), "extra_train_roots": [str(more)]})  # fmt: skip
    train(cfg, progress=False)
    header = read_header(tmp_path / "run" / "last.safetensors")
    assert header["training_data"]["frames"] == 2 * 6 + 6  # two training homes, one more
    assert header["training_data"]["dataset"] == f"{tiny_dataset}, {more}"
    assert header["metrics"]["split"] == "val"
    missing = tiny_config(tiny_dataset, tmp_path / "bad", data={"root": str(tiny_dataset),
                                                                  "extra_train_roots": [str(tmp_path / "none")]})  # fmt: skip
    with pytest.raises(DataError, match="no such split file"):
        train(missing, progress=False)


def test_mismatched_convention_is_refused_before_training(tiny_dataset, tmp_path):
    cfg = tiny_config(tiny_dataset, tmp_path, data={"root": str(tiny_dataset), "convention": "invpt"})
    with pytest.raises(ValueError, match=r"num_classes.*invpt.*needs 19"):
        train(cfg, progress=False)


def _m2h(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "m2h_ros.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600, **kwargs)  # fmt: skip


def test_cli_train_then_eval_reproduces_the_checkpoint_metrics(tiny_dataset, tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(to_dict(tiny_config(tiny_dataset, tmp_path / "run"))))
    done = _m2h("train", "--config", config, "--iterations", 10)
    assert done.returncode == 0, done.stderr
    weights = tmp_path / "run" / "last.safetensors"
    stored = read_header(weights)["metrics"]
    # training selects checkpoints by the fast edge protocol; `m2h eval --edges fast` scores the same way
    done = _m2h("eval", "--weights", weights, "--data", tiny_dataset, "--json", tmp_path / "m.json", "--device", "cpu",
                "--edges", "fast")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "mIoU" in done.stdout and "odsF" in done.stdout and "fast protocol" in done.stdout
    measured = json.loads((tmp_path / "m.json").read_text())
    assert stored["edges"]["protocol"] == measured["edges"]["protocol"] == "fast"
    for task in TASKS:
        for key, value in stored[task].items():
            if key != "protocol":
                assert measured[task][key] == pytest.approx(value, rel=1e-4, abs=1e-4), (task, key)
    done = _m2h("eval", "--weights", weights, "--data", tmp_path / "nowhere")
    assert done.returncode == 2 and "gt_sets/val.txt" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_ddp_under_torchrun(tiny_dataset, tmp_path):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(to_dict(tiny_config(tiny_dataset, tmp_path / "run", iterations=6, eval_every=6,
                                                         batch_size=2, threads=1))))  # fmt: skip
    done = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "m2h_ros.cli", "train",
                           "--config", str(config)], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _log(tmp_path / "run")
    assert [r["step"] for r in rows if r["kind"] == "eval"] == [6]  # rank 0 alone logs and evaluates
    assert read_header(tmp_path / "run" / "last.safetensors")["training_data"]["steps"] == 6


def test_resume_state_continues_the_random_streams_where_the_run_left_them(tmp_path):
    import random

    from m2h_ros.train.losses import TaskWeighting
    from m2h_ros.train.trainer import _load_resume, _save_resume

    layer = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(layer.parameters(), lr=1e-3)
    layer(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    torch.manual_seed(5)
    random.seed(5)
    _save_resume(tmp_path / "resume.safetensors", optimizer, 7, TaskWeighting("log", {}), 1.5, 12.0)
    expected = (torch.rand(4), random.random())  # what the run would have drawn next
    torch.manual_seed(0)
    random.seed(0)  # a new process starts from the configured seed ...
    step, best, seconds = _load_resume(tmp_path / "resume.safetensors", optimizer, TaskWeighting("log", {}))
    assert (step, best, seconds) == (7, 1.5, 12.0)
    assert torch.equal(torch.rand(4), expected[0]) and random.random() == expected[1]  # ... and continues the stream


def test_every_shipped_training_config_loads_and_validates():
    from pathlib import Path

    from m2h_ros.config import load

    configs = sorted((Path(__file__).resolve().parents[2] / "config" / "train").glob("*.yaml"))
    assert len(configs) >= 3
    loaded = {path.stem: load(TrainConfig, path) for path in configs}
    stage2 = loaded["m2h_lite_synthetic_stage2"]
    assert stage2.model["depth_focal_px"] > 0 and stage2.init_weights is not None
