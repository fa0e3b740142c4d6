"""Two-host scenario for tests/faults/test_loopback_only.py; run as root inside ``unshare -n``.

This network namespace is "us": ``lo`` plus a veth end 10.77.0.1. A second namespace (the remote
host: its own network, hostname and /etc/machine-id, so Fast DDS sees another host) holds the other
end, 10.77.0.2. Here, ``anima launch`` runs pd_controller and a witness (fixtures/loopback.launch.xml)
with ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``; there, a peer with ``ROS_STATIC_PEERS=10.77.0.1``
subscribes ``joint_states``, publishes ``joint_targets`` and calls ``emergency_stop``.

argv: mode ("control": the launch gets a profile that keeps Fast DDS's builtin transports, i.e. the
discovery range alone; "protected": the launch sets the project's loopback profile itself), the
remote's window in seconds, and the output JSON path.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
LOCAL_IP, REMOTE_IP = "10.77.0.1", "10.77.0.2"


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def start_remote_host(tmp: Path) -> subprocess.Popen[str]:
    """A process holding the remote host's namespaces (network, mount, hostname)."""
    machine_id = tmp / "machine-id"
    machine_id.write_text("0123456789abcdef0123456789abcdef\n")
    script = (f"mount --bind {machine_id} /etc/machine-id 2>/dev/null; hostname anima-remote; "
              "ip link set lo up && echo ready && exec sleep 600")
    holder = subprocess.Popen(["unshare", "-n", "-m", "-u", "--propagation", "private", "sh", "-c", script],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready", "remote namespace did not start"
    sh("ip", "link", "add", "anima_va", "type", "veth", "peer", "name", "anima_vb", "netns", str(holder.pid))
    sh("ip", "addr", "add", f"{LOCAL_IP}/24", "dev", "anima_va")
    sh("ip", "link", "set", "anima_va", "up")
    sh("nsenter", "-t", str(holder.pid), "-n", "ip", "addr", "add", f"{REMOTE_IP}/24", "dev", "anima_vb")
    sh("nsenter", "-t", str(holder.pid), "-n", "ip", "link", "set", "anima_vb", "up")
    return holder


def local_env(mode: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE",
                                                            "ROS_STATIC_PEERS")}
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # python3 = this venv's
    if mode == "control":
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(FIXTURES / "builtin_transports.xml")
    return env


def wait_local_up(status: Path, launch: subprocess.Popen[bytes], timeout_s: float = 90.0) -> dict:
    """Until pd_controller answers the witness's joint_states (the local stack works)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and launch.poll() is None:
        counts = read_status(status)
        if counts.get("joint_commands", 0) > 0:
            return counts
        time.sleep(0.1)
    raise RuntimeError(f"the local stack did not come up (launch exit {launch.poll()})")


def read_status(status: Path) -> dict:
    try:
        return json.loads(status.read_text())
    except (OSError, ValueError):
        return {}


def main() -> int:
    mode, window_s, out = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
    sh("ip", "link", "set", "lo", "up")
    with tempfile.TemporaryDirectory(prefix="anima-netns-") as tmp_s:
        tmp = Path(tmp_s)
        holder = start_remote_host(tmp)
        status, log = tmp / "status.json", tmp / "launch.log"
        anima = Path(sys.executable).parent / "anima"
        with open(log, "wb") as log_f:
            launch = subprocess.Popen([str(anima), "launch", str(FIXTURES / "loopback.launch.xml"), f"status:={status}",
                                       "--timeout", str(window_s + 120)], env=local_env(mode), stdout=log_f, stderr=subprocess.STDOUT)
        try:
            before = wait_local_up(status, launch)
            remote_env = {k: v for k, v in os.environ.items() if not k.startswith(("FASTRTPS_", "FASTDDS_"))}
            remote_env.update(ROS_AUTOMATIC_DISCOVERY_RANGE="SUBNET", ROS_STATIC_PEERS=LOCAL_IP)
            remote = subprocess.run(["nsenter", "-t", str(holder.pid), "-n", "-m", "-u", sys.executable,
                                     str(FIXTURES / "remote_peer.py"), str(window_s), "stop_early" if mode == "control" else "full"],
                                    env=remote_env, capture_output=True, text=True, timeout=window_s + 60)
            line = next((ln for ln in remote.stdout.splitlines() if ln.startswith("REMOTE ")), None)
            result = {"mode": mode, "local_before": before, "local": read_status(status),
                      "remote": json.loads(line[len("REMOTE "):]) if line else None, "remote_stderr": remote.stderr[-2000:]}
        finally:
            launch.send_signal(signal.SIGINT)
            launch.wait(timeout=30)
            holder.kill()
            holder.wait()
        result["launch_exit_code"] = launch.returncode
        result["launch_log_tail"] = log.read_text(errors="replace")[-3000:]
    out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
