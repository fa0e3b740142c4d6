#!/usr/bin/env bash
# The whole test suite: set up .venv, then pytest. As root (CI), the tests run inside a private
# network namespace (`unshare -n`, only `lo` up) so no DDS traffic can leave loopback.
# Extra arguments go to pytest (e.g. tests/controllers -k pd).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
  exec unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -P -m pytest "$@"' sh "$@"
fi
exec .venv/bin/python -P -m pytest "$@"
