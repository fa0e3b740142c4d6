"""Files from outside are data (issue 20, items 1, 18, 19): malicious, corrupt, truncated and
non-finite checkpoints and mistyped configs are refused with one line naming the file or key.

The malicious checkpoint's pickle would create a marker directory if it were ever unpickled by
``torch.load(weights_only=False)`` (the control below proves that it would); every loader of the
project must refuse it before anything runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from anima import share_dir
from anima.controllers.config_loader import config_from_mapping
from anima.controllers.robot_config import config_from_mapping as robot_config_from_mapping
from anima.models.checkpoint import CheckpointError, load_torch, save_torch, write_text_atomic
from anima.models.dynamics_ensemble import DynamicsEnsemble, EnsembleConfig
from anima.models.pddm.config import PDDMTrainConfig
from anima.models.pddm.data import Rollout, RolloutBuffer
from anima.sim_bridge.world import WorldConfig

SMALL = EnsembleConfig(ensemble_size=2, hidden_sizes=(8, 8), epochs=1, batch_size=16)


class _MakesMarker:
    """Unpickling this calls ``os.mkdir(marker)``: the stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _malicious_checkpoint(path: Path, marker: Path) -> Path:
    torch.save({"format": "anima.pddm.ensemble/1", "config": _MakesMarker(marker)}, path)
    return path


def _small_model() -> DynamicsEnsemble:
    return DynamicsEnsemble(3, 2, SMALL, ["j1", "j2"], generator=torch.Generator().manual_seed(0))


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    anima = Path(sys.executable).parent / "anima"
    return subprocess.run([str(anima), *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def _one_line_error(out: subprocess.CompletedProcess[str], *needles: str) -> str:
    text = (out.stdout + out.stderr).strip()
    assert out.returncode == 2, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    line = next((ln for ln in text.splitlines() if all(n in ln for n in needles)), None)
    assert line is not None, f"no line naming {needles}:\n{text[-3000:]}"
    return line


def test_malicious_pickle_would_run_code_without_weights_only(tmp_path: Path) -> None:
    # Control: the file really is an attack (torch.load without weights_only runs it).
    marker = tmp_path / "pwned"
    path = _malicious_checkpoint(tmp_path / "evil.pt", marker)
    torch.load(path, weights_only=False)
    assert marker.is_dir()


def test_malicious_checkpoint_is_refused_before_it_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = _malicious_checkpoint(tmp_path / "evil.pt", marker)
    with pytest.raises(CheckpointError) as err:
        DynamicsEnsemble.load(path)
    assert not marker.exists(), "the checkpoint's code ran"
    message = str(err.value)
    assert message.startswith(f"{path}: refused") and "\n" not in message
    assert "os.mkdir" in message or "posix.mkdir" in message, message


def test_malicious_model_via_cli_is_one_line_and_never_runs(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    config = PDDMTrainConfig.from_yaml(share_dir() / "config" / "pddm" / "reacher.yaml")
    write_text_atomic(run / "config.yaml", __import__("yaml").safe_dump(config.to_dict()))
    marker = tmp_path / "pwned"
    evil = _malicious_checkpoint(tmp_path / "evil.pt", marker)
    out = _cli("train", "pddm", "--resume", str(run), "--evaluate", "1", "--model", str(evil))
    _one_line_error(out, str(evil), "refused")
    # The same file as the run's own model (the --resume path).
    os.replace(evil, run / "model.pt")
    out = _cli("train", "pddm", "--resume", str(run), "--iterations", "1")
    _one_line_error(out, str(run / "model.pt"), "refused")
    assert not marker.exists(), "the checkpoint's code ran"


def test_truncated_checkpoint_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    _small_model().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"^{path}: cannot read the PDDM ensemble checkpoint") as err:
        DynamicsEnsemble.load(path)
    assert "\n" not in str(err.value)
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=f"^{path}: PDDM ensemble checkpoint file is empty$"):
        DynamicsEnsemble.load(path)


def test_resume_from_truncated_files_is_one_line_from_the_cli(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    config = PDDMTrainConfig.from_yaml(share_dir() / "config" / "pddm" / "reacher.yaml")
    write_text_atomic(run / "config.yaml", __import__("yaml").safe_dump(config.to_dict()))
    write_text_atomic(run / "progress.json", '{"history": [], "random_baseline": null}')
    buffer = RolloutBuffer([Rollout(np.zeros((3, 4), np.float32), np.zeros((2, 2), np.float32), np.zeros(2))])
    buffer.save(run / "data_train.npz")
    buffer.save(run / "data_val.npz")
    data = (run / "data_train.npz").read_bytes()
    (run / "data_train.npz").write_bytes(data[: len(data) // 2])
    out = _cli("train", "pddm", "--resume", str(run), "--iterations", "1")
    _one_line_error(out, str(run / "data_train.npz"), "cannot read rollout data")


def test_nan_weights_are_refused(tmp_path: Path) -> None:
    model = _small_model()
    with torch.no_grad():
        model.params[2][0, 0, 0] = float("nan")
    path = tmp_path / "nan.pt"
    model.save(path)
    with pytest.raises(CheckpointError, match=rf"^{path}: refused: params\[2\] has 1 non-finite value"):
        DynamicsEnsemble.load(path)


def test_checkpoint_write_is_atomic_when_the_writer_dies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.pt"
    _small_model().save(path)
    before = path.read_bytes()

    def dies_half_way(obj, f, *a, **k):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # the process is interrupted mid-write

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        _small_model().save(path)
    assert path.read_bytes() == before, "the old checkpoint was damaged"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"], "a temporary file was left behind"
    DynamicsEnsemble.load(path)


def test_new_checkpoints_are_plain_data_and_the_shipped_model_loads(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    _small_model().save(path, extra={"task": "reacher", "task_params": {"center_xy": (0.1, 0.2)}})
    torch.load(path, weights_only=True)  # no numpy, no custom classes: torch's own safe loader reads it
    shipped = DynamicsEnsemble.load(Path(share_dir()) / "models" / "pddm" / "data" / "baoding_ccw.pt")
    assert shipped.state_dim > 0  # older checkpoints hold numpy normalizers: allowed, still weights_only


def test_object_arrays_are_refused_even_where_numpy_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "obj.pt"
    torch.save({"x": np.array([{"a": 1}], dtype=object)}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_torch(path, allow_numpy=True)


# ----------------------------------------------------------------------- configs (item 19)
@pytest.mark.parametrize(("value", "expected"), [
    ("abc", "workers: expected int, got 'abc' (str)"),
    ("2.5", "workers: expected int, got 2.5 (float)"),
    ("true", "workers: expected int, got True (bool)"),
])
def test_set_with_a_wrong_type_names_the_key_and_type(value: str, expected: str) -> None:
    from anima.controllers.config_loader import parse_override

    config = PDDMTrainConfig()
    with pytest.raises(ValueError) as err:
        config.replace(**dict([parse_override(f"workers={value}")]))
    assert expected in str(err.value)


def test_set_wrong_types_from_the_cli_are_one_line(tmp_path: Path) -> None:
    out = _cli("train", "pddm", "--task", "reacher", "--run-dir", str(tmp_path / "r"),
               "--set", "workers=abc")
    _one_line_error(out, "workers", "expected int", "'abc'")
    assert not (tmp_path / "r").exists(), "a run started on a bad config"


def test_nested_and_file_config_types_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="planner: num_samples: expected int, got '700' \\(str\\)"):
        PDDMTrainConfig.from_dict({"planner": {"num_samples": "700"}}, "x.yaml")
    with pytest.raises(ValueError, match=r"ensemble: hidden_sizes\[1\]: expected int, got 2.5"):
        PDDMTrainConfig.from_dict({"ensemble": {"hidden_sizes": [8, 2.5]}}, "x.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: reacher\niterations: five\n")
    with pytest.raises(ValueError, match=f"^{bad}: iterations: expected int, got 'five'"):
        PDDMTrainConfig.from_yaml(bad)
    with pytest.raises(ValueError, match="x.yaml: physics_dt: expected float, got 'fast'"):
        config_from_mapping(WorldConfig, {"physics_dt": "fast"}, "x.yaml")
    with pytest.raises(ValueError, match="physics_dt: expected float, got NaN"):
        config_from_mapping(WorldConfig, {"physics_dt": float("nan")}, "x.yaml")


def test_robot_config_scalar_types_are_checked() -> None:
    import yaml

    data = yaml.safe_load((share_dir() / "config" / "robots" / "laikago.yaml").read_text())
    good = robot_config_from_mapping(data, "laikago.yaml")
    with pytest.raises(ValueError, match="laikago.yaml: target_rate_hz: expected float, got 'x'"):
        robot_config_from_mapping({**data, "target_rate_hz": "x"}, "laikago.yaml")
    with pytest.raises(ValueError, match="action_filter_order: expected int, got 2.5"):
        robot_config_from_mapping({**data, "action_filter_order": 2.5}, "laikago.yaml")
    assert good.num_joints == 12


def test_save_torch_writes_plain_data_atomically(tmp_path: Path) -> None:
    save_torch({"a": torch.ones(2)}, tmp_path / "x.pt")
    assert load_torch(tmp_path / "x.pt")["a"].tolist() == [1.0, 1.0]
