"""Shutting ROS down at the end of a node process."""

import pytest
import rclpy

from m2h_ros.ros import runner


def test_a_shutdown_that_the_sigint_handler_won_the_race_for_is_not_an_error(monkeypatch):
    rclpy.init()

    def raced():  # the handler's thread shut the context down after try_shutdown checked it
        rclpy.shutdown()
        raise RuntimeError("failed to shutdown: rcl_shutdown already called on the given context")

    monkeypatch.setattr(rclpy, "try_shutdown", raced)
    runner._shutdown()
    assert not rclpy.ok()


def test_a_shutdown_that_fails_while_ros_still_runs_is_raised(monkeypatch):
    rclpy.init()

    def broken():
        raise RuntimeError("failed to shutdown")

    monkeypatch.setattr(rclpy, "try_shutdown", broken)
    try:
        with pytest.raises(RuntimeError):
            runner._shutdown()
    finally:
        rclpy.shutdown()
