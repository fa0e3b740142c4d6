#!/usr/bin/env bash
# The main job: set up .venv, then run the simulated Laikago stack headless for a bounded time
# (real rclpy nodes over Fast DDS on loopback, started by `anima launch`) and print a report.
# Extra arguments go to `anima demo laikago` (e.g. --duration 30 --crouch).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
exec .venv/bin/anima demo laikago "$@"
