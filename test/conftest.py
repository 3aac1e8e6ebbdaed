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
