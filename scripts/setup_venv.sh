#!/usr/bin/env bash
# Create or update .venv/ at the repo root with the pinned dependencies and install anima into it
# (editable). Idempotent: when requirements.txt and setup.py are unchanged since the last
# successful install, it only checks the venv and returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.anima-install-stamp
want=$( (cat requirements.txt setup.py setup.cfg pyproject.toml; grep -l "^def main(" ros_nodes/*.py 2>/dev/null || true) | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "[setup] creating/updating .venv (pinned requirements.txt)" >&2
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip_q() {  # quiet pip; drop the local index's noise about absent mirror folders, keep real errors
  .venv/bin/python -m pip install -q --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}
pip_q --upgrade "setuptools==79.0.1" "wheel==0.45.1"
pip_q -r requirements.txt
pip_q --no-deps --no-build-isolation -e .
.venv/bin/python -c "import rclpy, pybullet, torch, cv2, anima.main" \
  || { echo "[setup] install check failed: see the pip output above" >&2; exit 1; }
echo "$want" > "$stamp"
echo "[setup] .venv ready" >&2
