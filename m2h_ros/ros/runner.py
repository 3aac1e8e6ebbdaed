"""Start nodes in one process with clean shutdown and one-line errors for bad configuration."""

from __future__ import annotations

import logging
import os
import sys

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor


def _shutdown() -> None:
    """Shut ROS down unless it already is. rclpy's SIGINT handler shuts the context down from its own
    thread, and can do so between try_shutdown's check and its call (seen on a loaded machine)."""
    try:
        rclpy.try_shutdown()
    except Exception:
        if rclpy.ok():
            raise


def run_nodes(node_classes: list, args: list[str] | None = None) -> None:
    """rclpy.init (ROS arguments such as ``--ros-args --params-file F`` are honoured), build the
    nodes, spin until Ctrl-C or shutdown, then end the process (status 0). A configuration error
    exits with status 2 and one line."""
    from m2h_ros.errors import M2HError

    rclpy.init(args=args)
    # Built before the nodes: a Ctrl-C while the (slow) nodes load must not interrupt the executor's
    # own construction, whose half-built remains crash the interpreter when collected.
    executor = MultiThreadedExecutor()
    nodes = []
    try:
        for cls in node_classes:
            nodes.append(cls())
        for node in nodes:
            executor.add_node(node)
        executor.spin()
    except M2HError as e:
        print(f"[m2h_ros] configuration error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in nodes:
            node.destroy_node()
        _shutdown()
    # The nodes are destroyed and ROS is shut down. Tearing down the interpreter's ~2,700 modules
    # (torch, timm) would take another 1-2 s of a launch's SIGINT budget and do nothing useful.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
