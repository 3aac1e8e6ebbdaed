"""Shared fixtures. ROS tests get their own DDS domain, confined to this machine."""

import os

import pytest


@pytest.fixture
def ros_env(monkeypatch):
    """A unique ROS_DOMAIN_ID (held across processes by domain_coordinator) for this test.

    Subprocesses started with ``os.environ`` inherit it, so a test and the nodes it starts share a
    domain that no concurrently running test uses.
    """
    domain_coordinator = pytest.importorskip("domain_coordinator", reason="ROS 2 is not installed (make setup)")
    with domain_coordinator.domain_id() as domain:
        monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
        monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        monkeypatch.setenv("ROS_PYTHON_CHECK_FIELDS", "1")
        monkeypatch.setenv("PYTHONUNBUFFERED", "1")
        yield dict(os.environ)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A synthetic dataset in the NYUDv2 layout: 3 homes × 6 frames at 112×84 (2 homes train, 1 val)."""
    from m2h_ros.synth.generate import SynthConfig, generate_dataset

    root = tmp_path_factory.mktemp("tiny_dataset")
    generate_dataset(root, [0, 1, 2], SynthConfig(width=112, height=84, frames_per_scene=6), workers=1,
                     val_fraction=0.34, progress=False)  # fmt: skip
    return root
