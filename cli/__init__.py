"""Anima: a ROS 2 robot control stack that teaches robots agile skills with learning.

Sub-packages: ``anima.controllers`` (run-time control and estimation cores), ``anima.sim_bridge``
(PyBullet worlds and environments), ``anima.models`` (learned models and their training),
``anima.ros_nodes`` (thin rclpy nodes). This root package holds the ``anima`` CLI.
"""

from __future__ import annotations

from anima.controllers.paths import PACKAGE, share_dir, source_root

__version__ = "0.1.0"
__all__ = ["PACKAGE", "share_dir", "source_root"]
