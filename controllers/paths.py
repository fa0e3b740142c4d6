"""Where the package's data lives: ``$(find-pkg-share anima)`` for the cores, without the CLI.

The cores (and the nodes) find ``config/``, ``launch/`` and ``urdf/`` through :func:`share_dir`;
the ``anima`` root package re-exports it for the CLI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = "anima"


def source_root() -> Path | None:
    """The repository root when running from a checkout (editable or symlink install), else None."""
    root = Path(__file__).resolve().parent.parent
    xml = root / "package.xml"
    if xml.is_file() and f"<name>{PACKAGE}</name>" in xml.read_text(encoding="utf-8"):
        return root
    return None


def share_dir() -> Path:
    """``$(find-pkg-share anima)``: the source tree in a checkout, else the installed share folder.

    Preferring the checkout means edits to ``launch/``/``config/`` take effect without a
    reinstall; an installed (non-editable) package uses ``<prefix>/share/anima`` or the ament
    index, as ``ros2 launch`` does on a robot.
    """
    root = source_root()
    if root is not None:
        return root
    prefixed = Path(sys.prefix) / "share" / PACKAGE
    if prefixed.is_dir():
        return prefixed
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        candidate = Path(prefix) / "share" / PACKAGE
        if prefix and candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cannot find the share directory of package '{PACKAGE}'")
