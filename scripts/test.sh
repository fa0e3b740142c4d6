#!/usr/bin/env bash
# The whole test suite: set up .venv, then pytest. As root (CI), the tests run inside a private
# network namespace (`unshare -n`, only `lo` up) so no DDS traffic can leave loopback. Without root
# or without `unshare -n`, it says so and isolates by ROS_DOMAIN_ID (each ROS test claims its own,
# tests/conftest.py) and the Fast DDS loopback profile (config/fastdds_localhost.xml) instead.
# Extra arguments go to pytest (e.g. tests/controllers -k pd).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
if [ -z "${FASTRTPS_DEFAULT_PROFILES_FILE:-}${FASTDDS_DEFAULT_PROFILES_FILE:-}" ]; then
  export FASTRTPS_DEFAULT_PROFILES_FILE="$PWD/config/fastdds_localhost.xml"
  export FASTDDS_DEFAULT_PROFILES_FILE="$FASTRTPS_DEFAULT_PROFILES_FILE"
fi
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
  exec unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -P -m pytest "$@"' sh "$@"
fi
if [ "$(id -u)" != 0 ]; then why="not running as root"; else why="'unshare -n' is not available here"; fi
echo "scripts/test.sh: $why, so the tests run WITHOUT a private network namespace;" \
     "isolating by ROS_DOMAIN_ID (one claimed per test) and the Fast DDS loopback profile" \
     "($FASTRTPS_DEFAULT_PROFILES_FILE) instead." >&2
exec .venv/bin/python -P -m pytest "$@"
