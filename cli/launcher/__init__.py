"""``anima launch``: run the project's XML launch files without ``ros2 launch``.

Public API:

* :func:`parse_launch_file` ``(path, launch_args, env) -> list[ProcessSpec]``: a pure function
  that resolves a launch file (args, lets, conditions, groups, namespaces, includes, env,
  parameters, remaps) into the ordered processes to start; raises :class:`LaunchError` naming
  file, line and tag.
* :func:`run_launch` ``(specs, timeout_s, grace_s=5.0, stdout=sys.stdout) -> LaunchResult``:
  starts them, prefixes their output, stops all when one ends / on time-out / on a signal.

The supported XML subset is the one ARCHITECTURE.md ("Launch files") lists; tag and attribute
names are those of ros2/launch's XML frontend, so the same files run under ``ros2 launch``.
"""

from anima.launcher.description import LaunchError, NodeAction, ProcessSpec, child_env
from anima.launcher.runner import LaunchResult, NodeOutcome, run_launch
from anima.launcher.xml_parser import parse_launch_args, parse_launch_file

__all__ = [
    "LaunchError", "LaunchResult", "NodeAction", "NodeOutcome", "ProcessSpec", "child_env",
    "parse_launch_args", "parse_launch_file", "run_launch",
]
