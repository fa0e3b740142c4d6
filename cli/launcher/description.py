"""What a parsed launch file describes: the processes to start, and the launch error type.

``anima launch`` reduces an XML launch file (see :mod:`anima.launcher.xml_parser`) to a flat,
ordered list of :class:`ProcessSpec`: one per ``<node>``, with every substitution, condition,
namespace and include already resolved. The runner (:mod:`anima.launcher.runner`) only needs
these specs, so the demo and the benchmarks can also build them by hand.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class LaunchError(Exception):
    """A launch file is invalid or cannot be resolved; nothing has been started.

    The message names the file, the line and the tag (``file:line: <tag>: what is wrong``).
    """

    def __init__(self, message: str, file: Path | str | None = None, line: int | None = None,
                 tag: str | None = None) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.line = line
        self.tag = tag
        where = ""
        if self.file is not None:
            where = self.file + (f":{line}" if line is not None else "") + ": "
        what = f"<{tag}>: " if tag else ""
        super().__init__(f"{where}{what}{message}")


@dataclass(frozen=True)
class ProcessSpec:
    """One process to start: a resolved ``<node>``.

    ``argv`` is ``[executable, *arguments, *ros_arguments]``; ``ros_arguments`` begins with
    ``--ros-args`` and holds, in this order, ``-r __node:=``, ``-r __ns:=``, the parameters
    (``-p k:=v`` and ``--params-file f`` interleaved in document order, as launch_ros passes
    them, so a later one wins in rcl) and the remaps ``-r from:=to``.

    Attributes:
        name: label of the process, used to prefix its output (node name, else executable).
        executable: resolved absolute path of the program.
        package: ``pkg`` attribute, or None.
        node_name: ``name`` attribute (passed as ``__node``), or None.
        namespace: absolute namespace (passed as ``__ns``), or None for the default ``/``.
        arguments: the ``args`` attribute split shell-like; they come before ``--ros-args``.
        parameters: ``(name, value)`` of each ``<param name value>``; values stay strings.
        params_files: absolute paths of each ``<param from>``.
        remaps: ``(from, to)`` of each ``<remap>``.
        env: the complete environment of the child; None (hand-built specs) means
            ``child_env(os.environ)`` at start time.
        env_overrides: the entries of ``env`` that differ from the launcher's environment.
        ros_arguments: the ordered ``--ros-args`` section (see above).
        source: ``file:line`` of the ``<node>`` tag, for messages.
        on_exit: ``"shutdown"`` when the ``<node>`` says ``on_exit="shutdown"`` (launch_xml's
            ``Shutdown`` action: the launch ends when this process exits), else None.
    """

    name: str
    executable: str
    package: str | None = None
    node_name: str | None = None
    namespace: str | None = None
    arguments: tuple[str, ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()
    params_files: tuple[str, ...] = ()
    remaps: tuple[tuple[str, str], ...] = ()
    env: Mapping[str, str] | None = field(default=None, compare=False)
    env_overrides: tuple[tuple[str, str], ...] = ()
    ros_arguments: tuple[str, ...] = ()
    source: str = ""
    on_exit: str | None = None

    @property
    def argv(self) -> list[str]:
        """The command line: executable, ``args``, then the ``--ros-args`` section."""
        return [self.executable, *self.arguments, *self.ros_arguments]

    def describe(self) -> str:
        """Human-readable dry-run text: a comment line, env overrides, the shell-quoted command."""
        lines = [f"# {self.name}" + (f"  ({self.source})" if self.source else "")]
        lines += [f"  env {k}={shlex.quote(v)}" for k, v in self.env_overrides]
        lines.append("  " + shlex.join(self.argv))
        return "\n".join(lines)


def child_env(base: Mapping[str, str], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a launched process: ``base`` + ``overrides`` + the launcher's defaults.

    The project's network rule (:func:`anima.ros_env.apply_network_rule`): unless already set,
    ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` and then the Fast DDS loopback profile, so DDS stays
    on 127.0.0.1 unless the user says otherwise on a robot; and ``PYTHONUNBUFFERED=1`` so Python
    nodes' output reaches the prefixed log line by line.
    """
    from anima.ros_env import apply_network_rule

    env = {**base, **(overrides or {})}
    apply_network_rule(env)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# The name the brief for issue 2 uses for the same thing.
NodeAction = ProcessSpec
