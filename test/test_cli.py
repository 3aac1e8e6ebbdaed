"""The m2h command: label export, and errors without tracebacks."""

import subprocess
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

from m2h_ros import cli, commands, labels


def test_labels_export_writes_all_spaces(tmp_path, capsys):
    assert cli.main(["labels", "export", "--out", str(tmp_path)]) == 0
    for name, space in labels.LABEL_SPACES.items():
        doc = yaml.safe_load((tmp_path / f"{name}_label_space.yaml").read_text())
        assert doc["total_semantic_labels"] == len(space)
        assert (tmp_path / f"{name}_colormap.csv").read_text() == labels.hydra_colormap_csv(space)
    assert "nyu20" in capsys.readouterr().out


def test_labels_list(capsys):
    assert cli.main(["labels", "list", "synthetic"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(labels.SYNTHETIC)
    assert "chair" in out[labels.SYNTHETIC.id("chair")] and "object" in out[labels.SYNTHETIC.id("chair")]


def test_bad_arguments_exit_nonzero_with_a_message(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    run = subprocess.run(
        [sys.executable, "-m", "m2h_ros.cli", "labels", "export", "--out", str(blocker / "sub")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode != 0
    assert "Traceback" not in run.stderr and run.stderr.startswith("m2h: error:")
    run = subprocess.run(
        [sys.executable, "-m", "m2h_ros.cli", "labels", "list", "coco"], capture_output=True, text=True
    )
    assert run.returncode == 2 and "invalid choice: 'coco'" in run.stderr


def test_export_onnx_writes_a_model_that_onnx_runtime_runs_at_the_given_size(tmp_path, capsys):
    import onnxruntime as ort
    import torch

    from m2h_ros.model.build import build_model
    from m2h_ros.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    weights = save_checkpoint(build_model("m2h_lite", channels=32, head_channels=(16,)), tmp_path / "w.safetensors")
    assert cli.main(["export-onnx", str(weights), str(tmp_path / "w.onnx"), "--size", "56", "84"]) == 0
    assert "input (1, 3, 56, 84); max |onnx - torch|" in capsys.readouterr().out
    session = ort.InferenceSession(str(tmp_path / "w.onnx"), providers=["CPUExecutionProvider"])
    (image,) = session.get_inputs()
    assert list(image.shape)[1:] == [3, 56, 84]
    outputs = session.run(None, {image.name: np.zeros((1, 3, 56, 84), np.float32)})
    assert len(outputs) == 4 and all(np.isfinite(o).all() for o in outputs)


def test_convert_goes_both_ways_between_the_authors_layout_and_a_checkpoint(tmp_path, capsys):
    import json

    import torch

    from m2h_ros.model.build import build_model
    from m2h_ros.model.checkpoint import to_authors_layout

    torch.save(to_authors_layout(build_model("m2h_small")), tmp_path / "authors.pt")
    assert (
        cli.main(
            ["convert", str(tmp_path / "authors.pt"), str(tmp_path / "small.safetensors"), "--variant", "m2h_small"]
        )
        == 0
    )
    assert cli.main(["info", str(tmp_path / "small.safetensors")]) == 0
    header = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert header["config"]["variant"] == "m2h_small" and header["training_data"]["converted_from"] == "authors.pt"
    assert cli.main(["convert", str(tmp_path / "small.safetensors"), str(tmp_path / "back.pt")]) == 0
    original, back = (torch.load(tmp_path / name, weights_only=True) for name in ("authors.pt", "back.pt"))
    assert back.keys() == original.keys() and all(torch.equal(back[k], original[k]) for k in original)
    assert cli.main(["convert", str(tmp_path / "authors.pt"), str(tmp_path / "x.safetensors"), "--variant", "m2h"]) == 2
    assert (
        "keys not in the M2H layout: mlt_head." in capsys.readouterr().err
    )  # a lightweight layout is not the full one


def test_the_authors_lightweight_width_converts_with_channels(tmp_path, capsys):
    import torch

    from m2h_ros.model.build import build_model
    from m2h_ros.model.checkpoint import to_authors_layout

    torch.save(
        to_authors_layout(build_model("m2h_small", channels=96)), tmp_path / "light.pt"
    )  # as their code builds it
    out = str(tmp_path / "light.safetensors")
    assert cli.main(["convert", str(tmp_path / "light.pt"), out, "--variant", "m2h_small"]) == 2
    assert (
        "decoder of width C = 96, the m2h_small variant C = 256: convert with --channels 96" in capsys.readouterr().err
    )
    assert cli.main(["convert", str(tmp_path / "light.pt"), out, "--variant", "m2h_small", "--channels", "96"]) == 0
    assert "29,042,096 parameters" in capsys.readouterr().out


def test_missing_weights_file_is_one_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "m2h_ros.cli", "info", str(tmp_path / "nope.safetensors")],
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 2 and run.stderr.strip().count("\n") == 0 and "no such weights file" in run.stderr


@pytest.mark.slow
def test_synth_bag_command(tmp_path):
    run = subprocess.run([sys.executable, "-m", "m2h_ros.cli", "synth", "bag", str(tmp_path / "home"), "--frames", "3",
                          "--size", "48", "64", "--seed", "2"], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "home" / "scene.json").is_file()
    with Image.open(tmp_path / "home_contact_sheet.png") as sheet:  # --size is H W: three rows of 48, six tiles of 64
        assert sheet.size == (6 * 64, 3 * 48)
    assert "3 frames" in run.stdout
    again = subprocess.run([sys.executable, "-m", "m2h_ros.cli", "synth", "bag", str(tmp_path / "home")],
                           capture_output=True, text=True)  # fmt: skip
    assert again.returncode == 2 and "exists; choose a new bag directory" in again.stderr


def test_convert_our_checkpoint_to_float16_keeps_header_and_outputs(tmp_path, capsys):
    import torch

    from m2h_ros.model.build import build_model
    from m2h_ros.model.checkpoint import load_checkpoint, read_header, save_checkpoint

    torch.manual_seed(0)
    src = save_checkpoint(build_model("m2h_lite"), tmp_path / "lite.safetensors", metrics={"semseg": {"mIoU": 1.0}})
    assert cli.main(["convert", str(src), str(tmp_path / "half.safetensors"), "--fp16"]) == 0
    assert "float16" in capsys.readouterr().out
    half = tmp_path / "half.safetensors"
    assert half.stat().st_size < 0.55 * src.stat().st_size
    assert read_header(half)["metrics"] == {"semseg": {"mIoU": 1.0}}
    a, b = load_checkpoint(src).eval(), load_checkpoint(half).eval()
    assert next(b.parameters()).dtype == torch.float32
    x = torch.randn(1, 3, 56, 56)
    with torch.no_grad():
        torch.testing.assert_close(b(x).depth, a(x).depth, rtol=1e-2, atol=1e-2)


def test_predict_draws_one_row_per_image_and_rejects_unreadable_files(tmp_path, capsys):
    import torch

    from m2h_ros.model.build import build_model
    from m2h_ros.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    weights = save_checkpoint(build_model("m2h_lite", pretrained=False), tmp_path / "lite.safetensors")
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)).save(photo)
    args = [
        "--weights",
        str(weights),
        "--out",
        str(tmp_path / "sheet.png"),
        "--input-size",
        "64",
        "96",
        "--width",
        "80",
    ]
    assert cli.main(["predict", str(photo), str(photo), *args]) == 0
    out = capsys.readouterr().out
    assert out.count("photo.jpg: depth") == 2 and "contact sheet" in out
    # two rows (90x120 shown at 60x80) of RGB | depth | semantics | normals | edges
    assert np.asarray(Image.open(tmp_path / "sheet.png")).shape == (2 * 60, 5 * 80, 3)
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    assert cli.main(["predict", str(tmp_path / "bad.jpg"), *args]) == 2
    assert "bad.jpg: not a readable image" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["synth", "dataset", "out", "--scenes", "0"], "synth dataset: argument --scenes: must be >= 1, got 0"),
        (["export-onnx", "w.safetensors", "o.onnx", "--size", "0", "0"], "argument --size: must be >= 14, got 0"),
        (["bag", "eval", "bag", "--rate", "-1"], "bag eval: argument --rate: must be >= 0.0, got -1"),
        (["synth", "bag", "out", "--frames", "many"], "argument --frames: expected a number, got 'many'"),
    ],
)
def test_bad_argument_values_exit_2_with_one_error_line(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("m2h: error: ") and err.count("\n") == 1, err
    assert message in err


def test_a_bug_keeps_its_traceback_while_a_file_error_is_one_line(tmp_path, monkeypatch, capsys):
    def broken(args):
        return {}["internal"]  # a KeyError from a bug, not from the user

    monkeypatch.setattr(commands, "info", broken)
    with pytest.raises(KeyError):
        cli.main(["info", "w.safetensors"])
    (tmp_path / "a_file").write_text("")
    assert cli.main(["labels", "export", "--space", "nyu20", "--out", str(tmp_path / "a_file" / "sub")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("m2h: error: ") and err.count("\n") == 1 and "a_file" in err, err
