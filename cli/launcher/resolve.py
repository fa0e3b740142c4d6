"""Name rules and executable look-up for ``<node>``: namespaces as launch_ros combines them.

Namespace rules follow launch_ros (``utilities/namespace_utils.py``, ``actions/node.py``): a
relative node namespace is appended to the one pushed by ``<push-ros-namespace>``; an absolute one
replaces it; the result is made absolute; no namespace anywhere means no ``__ns`` remap at all.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

_NODE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NAMESPACE = re.compile(r"(/[A-Za-z_][A-Za-z0-9_]*)+\Z")


def prefix_namespace(base: str | None, ns: str | None) -> str | None:
    """``ns`` under ``base`` if ``ns`` is relative, else ``ns``; None only if both are None.

    >>> prefix_namespace("robot", "legs"), prefix_namespace("/robot", "/abs")
    ('robot/legs', '/abs')
    """
    if ns is None:
        combined = base
    elif not base or ns.startswith("/"):
        combined = ns
    else:
        combined = ("" if base == "/" else base) + "/" + ns
    if combined and combined != "/":
        combined = combined.rstrip("/") or "/"
    return combined


def make_absolute(ns: str | None) -> str | None:
    """``ns`` with a leading ``/`` (None stays None)."""
    if ns is None or ns.startswith("/"):
        return ns
    return "/" + ns


def namespace_problem(ns: str) -> str | None:
    """Why ``ns`` (absolute) is not a valid ROS namespace, or None if it is."""
    if ns == "/" or _NAMESPACE.match(ns):
        return None
    return (f"'{ns}' is not a valid namespace (tokens of letters, digits and '_', not starting "
            "with a digit, separated by single '/', no trailing '/')")


def node_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid ROS node name, or None if it is."""
    if _NODE_NAME.match(name):
        return None
    return f"'{name}' is not a valid node name (letters, digits and '_', not starting with a digit)"


def resolve_executable(package: str | None, executable: str, env: Mapping[str, str],
                       launch_dir: Path) -> Path:
    """Absolute path of ``exec``, or raise LookupError listing where it looked.

    * ``exec`` with a ``/``: that path; a relative one is taken relative to the launch file's
      directory (an anima extension so fixtures can ship scripts; ``ros2 launch`` would use the
      working directory, so files in ``launch/`` should not rely on it).
    * ``pkg="anima"``: ``<sys.prefix>/lib/anima/`` (colcon/ament layout), then the folder of
      ``sys.executable`` (the venv ``bin/``, where pip puts console scripts), then ``PATH``.
    * another ``pkg``: ``<prefix>/lib/<pkg>/`` for each ``AMENT_PREFIX_PATH`` entry, then ``PATH``.
    * no ``pkg``: ``PATH``, then the launch file's directory.
    """
    if "/" in executable:
        path = Path(executable)
        path = path if path.is_absolute() else launch_dir / path
        if _is_executable(path):
            return path
        raise LookupError(f"executable '{path}' does not exist or is not executable")
    dirs: list[Path] = []
    if package == "anima":
        dirs += [Path(sys.prefix) / "lib" / "anima", Path(sys.executable).parent]
    elif package is not None:
        dirs += [Path(p) / "lib" / package for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    dirs += [Path(p) for p in env.get("PATH", "").split(os.pathsep) if p]
    if package is None:
        dirs.append(launch_dir)
    for folder in dirs:
        if _is_executable(folder / executable):
            return folder / executable
    what = f"executable '{executable}'" + (f" of package '{package}'" if package else "")
    shown = ", ".join(str(d) for d in dirs[:6]) + (", ..." if len(dirs) > 6 else "")
    hint = "; node console scripts are installed by `bash scripts/setup_venv.sh`" if package == "anima" else ""
    raise LookupError(f"{what} not found (looked in: {shown}){hint}")


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
