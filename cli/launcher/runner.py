"""Run the processes of a launch description; stop them all when one ends, on a time limit or a signal.

Lifecycle (what ``anima launch`` promises, see ARCHITECTURE.md "Launch files"):

* Processes start in order, each in its own session and process group (``start_new_session``),
  so a terminal's Ctrl-C reaches only the launcher, and stopping a node reaches its children too.
* Each process dies with the launcher: it is started with ``PR_SET_PDEATHSIG`` = SIGKILL (Linux
  ``prctl``), so even a launcher killed by SIGKILL, which cannot stop anything itself, leaves no
  node running (tests/faults/test_launcher_faults.py).
* Their stdout and stderr are merged, read line by line by one thread per process (so a chatty
  child never blocks on a full pipe) and printed as ``[<name>] <line>``.
* The run ends when any process exits by itself, when ``timeout_s`` wall seconds have passed, or
  when the launcher gets SIGINT/SIGTERM/SIGHUP. Then every process group gets SIGINT; groups still
  alive after ``grace_s`` get SIGKILL (a signal to the launcher while stopping skips the grace period).
  Every group is emptied before :func:`run_launch` returns, grandchildren included, unless one of
  them left the group on purpose (``setsid``), which no launcher can see.
* A node failed if it exited by itself with a non-zero code, or, once asked to stop, exited with a
  code other than 0, 130 or "killed by SIGINT", or had to be SIGKILLed. A node that exits by itself
  with code 0 ends the run cleanly (a monitor node can end a run this way).
* ``on_exit="shutdown"`` on a ``<node>`` (launch_xml's Shutdown action) ends the launch when that
  node exits, under both runners. ``anima launch`` is stricter than ``ros2 launch`` for the other
  nodes: any process that exits by itself ends the run (a node that dies on a robot stops the
  stack), so the attribute changes only what is logged here; under ``ros2 launch`` it is what ends a
  monitored run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from anima.launcher.description import ProcessSpec, child_env

_CLEAN_STOP_CODES = (0, -signal.SIGINT, 128 + signal.SIGINT)
_POLL_S = 0.02
LAUNCHER_LABEL = "launch"


@dataclass(frozen=True)
class NodeOutcome:
    """How one process ended.

    ``returncode`` follows :mod:`subprocess` (negative: killed by that signal; None: never started).
    """

    name: str
    pid: int | None
    returncode: int | None
    exited_on_own: bool
    killed: bool
    failed: bool
    reason: str


@dataclass(frozen=True)
class LaunchResult:
    """Outcome of :func:`run_launch`: ``exit_code`` is 0 only if no node failed."""

    exit_code: int
    nodes: tuple[NodeOutcome, ...]
    stop_reason: str  # "node_exit", "timeout", "signal", "start_error" or "empty"

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the nodes that failed."""
        return tuple(n.name for n in self.nodes if n.failed)

    @property
    def exit_codes(self) -> dict[str, int | None]:
        """``name -> returncode`` for every node."""
        return {n.name: n.returncode for n in self.nodes}


class _Printer:
    """Thread-safe ``[name] line`` writer."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def line(self, name: str, text: str) -> None:
        with self._lock:
            with contextlib.suppress(OSError, ValueError):
                self._stream.write(f"[{name}] {text}\n")
                self._stream.flush()


@dataclass
class _Proc:
    spec: ProcessSpec
    popen: subprocess.Popen[bytes]
    reader: threading.Thread
    exited_on_own: bool = False
    killed: bool = False

    @property
    def pgid(self) -> int:
        return self.popen.pid  # leader of its own session and group


@dataclass
class _Signals:
    count: int = 0
    event: threading.Event = field(default_factory=threading.Event)


def run_launch(specs: Sequence[ProcessSpec], timeout_s: float | None = None, grace_s: float = 5.0,
               stdout: IO[str] | None = None) -> LaunchResult:
    """Start ``specs`` in order, supervise them, stop them all, and say who failed.

    Args:
        specs: processes to run (see :func:`anima.launcher.parse_launch_file`).
        timeout_s: wall seconds after which all processes are stopped (None: no limit).
        grace_s: seconds between SIGINT and SIGKILL when stopping.
        stdout: where prefixed output and launcher messages go (default ``sys.stdout``).
    """
    if timeout_s is not None and timeout_s < 0:
        raise ValueError(f"timeout_s must be >= 0, got {timeout_s}")
    if grace_s < 0:
        raise ValueError(f"grace_s must be >= 0, got {grace_s}")
    printer = _Printer(stdout if stdout is not None else sys.stdout)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    procs: list[_Proc] = []
    start_failure: NodeOutcome | None = None
    signals = _Signals()
    reason = "error"
    with _handle_signals(signals):
        try:  # whatever happens here, every started process group is stopped
            for spec in specs:
                if signals.event.is_set():
                    break
                try:
                    procs.append(_start(spec, printer))
                except OSError as exc:
                    printer.line(LAUNCHER_LABEL, f"cannot start {spec.name}: {exc}")
                    start_failure = NodeOutcome(spec.name, None, None, False, False, True, f"could not start: {exc}")
                    break
            if start_failure is not None:
                reason = "start_error"
            elif not procs:
                reason = "signal" if signals.event.is_set() else "empty"
            else:
                reason = _supervise(procs, deadline, signals, printer)
        finally:
            _stop_all(procs, grace_s, signals, printer)
    for proc in procs:
        proc.reader.join(timeout=1.0)
    outcomes = [_outcome(p, grace_s) for p in procs] + ([start_failure] if start_failure else [])
    failed = [o for o in outcomes if o.failed]
    if failed:
        printer.line(LAUNCHER_LABEL, "FAILED: " + "; ".join(f"{o.name} ({o.reason})" for o in failed))
    return LaunchResult(1 if failed else 0, tuple(outcomes), reason)


@contextlib.contextmanager
def _handle_signals(signals: _Signals) -> Iterator[None]:
    """Turn SIGINT/SIGTERM/SIGHUP into a stop request while launching (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: object) -> None:
        signals.count += 1
        signals.event.set()

    wanted = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, handler) for sig in wanted}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)  # loaded before any fork
except OSError:  # pragma: no cover - not Linux
    _LIBC = None


def _die_with_launcher(launcher_pid: int) -> Callable[[], None] | None:
    """``preexec_fn`` for a child: SIGKILL it when the launcher's thread that started it exits.

    Runs between fork and exec, so it only calls the already-loaded libc. If the launcher died
    before ``prctl`` took effect, the child is already orphaned and exits at once.
    """
    if _LIBC is None or not hasattr(_LIBC, "prctl"):
        return None
    prctl = _LIBC.prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != launcher_pid:
            os._exit(1)

    return preexec


def _start(spec: ProcessSpec, printer: _Printer) -> _Proc:
    popen = subprocess.Popen(
        spec.argv, env=child_env(os.environ) if spec.env is None else dict(spec.env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
        preexec_fn=_die_with_launcher(os.getpid()))
    assert popen.stdout is not None
    reader = threading.Thread(target=_pump, args=(popen.stdout, spec.name, printer),
                              name=f"launch-{spec.name}", daemon=True)
    reader.start()
    printer.line(LAUNCHER_LABEL, f"started {spec.name} (pid {popen.pid})")
    return _Proc(spec, popen, reader)


def _pump(stream: IO[bytes], name: str, printer: _Printer) -> None:
    with stream:
        for raw in iter(stream.readline, b""):
            printer.line(name, raw.decode("utf-8", errors="replace").rstrip("\r\n"))


def _supervise(procs: list[_Proc], deadline: float | None, signals: _Signals, printer: _Printer) -> str:
    """Wait until a process exits, the deadline passes or a signal arrives; return which."""
    while True:
        ended = [p for p in procs if p.popen.poll() is not None]
        if ended:
            for proc in ended:
                proc.exited_on_own = True
                why = " (on_exit=shutdown)" if proc.spec.on_exit == "shutdown" else ""
                printer.line(LAUNCHER_LABEL, f"{proc.spec.name} exited by itself with code {proc.popen.returncode}{why}")
            return "node_exit"
        if signals.event.is_set():
            printer.line(LAUNCHER_LABEL, "signal received")
            return "signal"
        if deadline is not None and time.monotonic() >= deadline:
            printer.line(LAUNCHER_LABEL, "time limit reached")
            return "timeout"
        signals.event.wait(_POLL_S)


def _stop_all(procs: list[_Proc], grace_s: float, signals: _Signals, printer: _Printer) -> None:
    """SIGINT every group, SIGKILL what is left after ``grace_s``, then wait until all are gone."""
    if not procs:
        return
    printer.line(LAUNCHER_LABEL, "stopping all processes")
    signals_before = signals.count
    for proc in procs:
        _signal_group(proc.pgid, signal.SIGINT)
    limit = time.monotonic() + grace_s
    while time.monotonic() < limit and signals.count == signals_before:
        if all(p.popen.poll() is not None and not _group_alive(p.pgid) for p in procs):
            break
        time.sleep(_POLL_S)
    for proc in procs:
        if proc.popen.poll() is None:
            proc.killed = True
            printer.line(LAUNCHER_LABEL, f"{proc.spec.name} did not stop after SIGINT; sending SIGKILL")
        if proc.popen.returncode is None or _group_alive(proc.pgid):
            _signal_group(proc.pgid, signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=5.0)
    limit = time.monotonic() + 2.0
    while time.monotonic() < limit and any(_group_alive(p.pgid) for p in procs):
        time.sleep(_POLL_S)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """Whether process group ``pgid`` still has a member that is not a zombie."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if entry.isdigit() and _proc_group_state(entry) == (pgid, True):
            return True
    return False


def _proc_group_state(pid: str) -> tuple[int, bool] | None:
    """``(pgid, not zombie)`` of a /proc entry, or None if it vanished."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp ...
    if len(fields) < 3:
        return None
    return int(fields[2]), fields[0] not in ("Z", "X")


def _outcome(proc: _Proc, grace_s: float) -> NodeOutcome:
    code = proc.popen.returncode
    if proc.exited_on_own:
        failed, reason = code != 0, f"exited by itself with {_describe_code(code)}"
    elif proc.killed:
        failed, reason = True, f"did not stop within {grace_s:g} s of SIGINT and was killed"
    else:
        failed = code not in _CLEAN_STOP_CODES
        reason = f"stopped, {_describe_code(code)}"
    return NodeOutcome(proc.spec.name, proc.popen.pid, code, proc.exited_on_own, proc.killed, failed, reason)


def _describe_code(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
