"""The typed configuration loader."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from m2h_ros.config import ConfigError, check, from_dict, load, to_dict


@dataclass
class Cloud:
    stride: int = 1
    max_range_m: float = 10.0

    def __post_init__(self):
        check(self.stride >= 1, "stride", f"must be >= 1, got {self.stride}")


@dataclass
class Node:
    device: Literal["cpu", "cuda"] = "cpu"
    weights: Path | None = None
    input_size: tuple[int, int] = (224, 224)
    outputs: list[str] = field(default_factory=lambda: ["depth"])
    cloud: Cloud = field(default_factory=Cloud)


def test_defaults_and_nested_values(tmp_path):
    f = tmp_path / "node.yaml"
    f.write_text("device: cuda\nweights: ~/w.safetensors\ninput_size: [448, 576]\ncloud: {stride: 4, max_range_m: 5}\n")
    cfg = load(Node, f)
    assert cfg.device == "cuda" and cfg.input_size == (448, 576)
    assert cfg.weights == Path.home() / "w.safetensors"
    assert cfg.cloud == Cloud(stride=4, max_range_m=5.0) and isinstance(cfg.cloud.max_range_m, float)
    assert from_dict(Node, {}) == Node()
    assert from_dict(Node, to_dict(cfg)) == cfg


def test_ros_parameter_file_section(tmp_path):
    f = tmp_path / "params.yaml"
    f.write_text("perception_node:\n  ros__parameters:\n    cloud:\n      stride: 2\n")
    assert load(Node, f, node="perception_node").cloud.stride == 2
    f.write_text("/**/perception_node:\n  ros__parameters:\n    cloud:\n      stride: 3\n")
    assert load(Node, f, node="perception_node").cloud.stride == 3  # any namespace
    with pytest.raises(ConfigError, match="expected 'other: ros__parameters:'"):
        load(Node, _write(tmp_path, "other: 3\n"), node="other")


def _write(tmp_path, text):
    f = tmp_path / "x.yaml"
    f.write_text(text)
    return f


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("devic: cpu\n", r"x.yaml: unknown key 'devic' \(known keys: device, weights"),
        ("cloud: {strid: 2}\n", r"unknown key 'cloud.strid' \(known keys of cloud: stride, max_range_m\)"),
        ("device: tpu\n", r"'device' must be one of 'cpu', 'cuda', got 'tpu'"),
        ("input_size: [1, 2, 3]\n", r"'input_size' must be a list of 2 items"),
        ("input_size: [1, x]\n", r"'input_size\[1\]' must be an integer, got 'x'"),
        ("cloud: {stride: 0}\n", r"x.yaml: cloud: 'stride' must be >= 1, got 0"),
        ("cloud: {stride: true}\n", r"'cloud.stride' must be an integer, got True"),
        ("outputs: depth\n", r"'outputs' must be a list"),
        ("[1, 2]\n", r"top level: expected a mapping"),
        ("device: [\n", r"not valid YAML"),
    ],
)
def test_errors_name_the_key_and_the_file(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as e:
        load(Node, _write(tmp_path, text))
    assert str(tmp_path / "x.yaml") in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        load(Node, tmp_path / "absent.yaml")
