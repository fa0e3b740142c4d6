#!/usr/bin/env bash
# System packages for the goal-query panel's window tests (tests/ros_nodes/test_query_panel_e2e.py):
# Xvfb (a headless X server) and the xcb libraries PyQt5's wheel expects but does not bundle.
# Debian/Ubuntu, as root; elsewhere, or offline, it says so and the screenshot test skips (Xvfb absent).
set -uo pipefail
PKGS="xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxkbcommon-x11-0"

if command -v Xvfb >/dev/null && [ "$(dpkg-query -W -f='${Status}\n' $PKGS 2>/dev/null | grep -c 'install ok installed')" = "$(echo $PKGS | wc -w)" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "[gui-deps] not root or no apt-get: install $PKGS yourself for the Xvfb screenshot test" >&2
  exit 0
fi
echo "[gui-deps] installing $PKGS" >&2
{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PKGS >/dev/null; } \
  || echo "[gui-deps] apt-get failed: the Xvfb screenshot test will skip if Xvfb is absent" >&2
