"""Checkpoints and reports on disk: written atomically, read as data, refused when corrupt.

The rules (ARCHITECTURE.md, "Files from outside are data"), in one place for every trainer:

* Writing: :func:`atomic_write` (and :func:`write_text_atomic`, :func:`write_json_atomic`,
  :func:`save_torch`, :func:`save_npz`) write to a temporary file in the target's folder, ``fsync``
  it and ``os.replace`` it over the target, so a crash or a kill leaves the old file or the new one,
  never half of one.
* Reading: :func:`load_torch` calls ``torch.load(weights_only=True)``: a file is tensors, numbers,
  strings, lists and dicts, never code. A pickle that would import anything else is refused
  before anything runs. Anything wrong (missing, truncated, not a checkpoint, malicious) is a
  :class:`CheckpointError`: a ``ValueError`` with one line that names the file, which the CLIs and
  the nodes print without a traceback.
* :func:`require_finite` refuses NaN or infinite weights, which would otherwise plan or act silently
  on garbage.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np


class CheckpointError(ValueError):
    """A checkpoint or data file cannot be used; the message is one line and names the file."""


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path`` for writing; on success it replaces ``path`` atomically.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path, "w") as f:
        f.write(text)


def write_json_atomic(path: str | Path, data: Any, **dumps_kwargs: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (``dumps_kwargs`` go to :func:`json.dumps`)."""
    write_text_atomic(path, json.dumps(data, **dumps_kwargs) + "\n")


def save_torch(obj: Any, path: str | Path) -> None:
    """``torch.save`` to ``path`` atomically. Keep ``obj`` plain data so :func:`load_torch` reads it."""
    import torch

    with atomic_write(path, "wb") as f:
        torch.save(obj, f)


def save_npz(path: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    """``np.savez_compressed`` to ``path`` atomically (no ``.npz`` is appended to the name)."""
    with atomic_write(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def load_torch(path: str | Path, what: str = "checkpoint", allow_numpy: bool = False) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; CheckpointError naming ``path`` on any failure.

    ``allow_numpy`` also accepts plain numpy arrays (the numeric dtypes only), as older checkpoints
    of this project stored normalizers that way; the unpickler still refuses every other global.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such {what} file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: {what} file is empty")
    safe = _numpy_globals() if allow_numpy else []
    try:
        with torch.serialization.safe_globals(safe):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line naming the file
        if isinstance(exc, CheckpointError):
            raise
        if "GLOBAL" in str(exc) or "global" in str(exc) or "allowlist" in str(exc):
            raise CheckpointError(f"{path}: refused: the {what} holds Python objects other than plain data "
                                  f"(weights_only load: {_unsupported_global(exc)}); it was not run") from None
        raise CheckpointError(f"{path}: cannot read the {what} (corrupt or truncated?): "
                              f"{type(exc).__name__}: {_one_line(exc)}") from None


def _unsupported_global(exc: BaseException) -> str:
    """The global the weights-only unpickler refused, from torch's long message."""
    import re

    text = " ".join(str(exc).split())
    m = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", text)
    if m:
        return f"global {m.group(1)}"
    m = re.search(r"(?:for|call) ([\w.]+) (?:which|whose)", text)
    return f"global {m.group(1)}" if m else text[-160:]


def _numpy_globals() -> list[Any]:
    """What a pickled numeric numpy array needs: the array reconstructor, ndarray and the dtypes."""
    from numpy import dtypes

    core = getattr(np, "_core", None) or np.core
    numeric = [getattr(dtypes, n) for n in ("Float16DType", "Float32DType", "Float64DType", "Int8DType", "Int16DType",
                                             "Int32DType", "Int64DType", "UInt8DType", "UInt16DType", "UInt32DType",
                                             "UInt64DType", "BoolDType") if hasattr(dtypes, n)]
    return [core.multiarray._reconstruct, np.ndarray, np.dtype, *numeric]


def require_finite(path: str | Path, named: Mapping[str, Any]) -> None:
    """CheckpointError naming ``path`` and the first entry of ``named`` (tensors/arrays) that is not finite."""
    import torch

    for name, value in named.items():
        t = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value, dtype=np.float64))
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise CheckpointError(f"{path}: refused: {name} has {bad} non-finite value(s) (NaN or inf)")


__all__ = ["CheckpointError", "atomic_write", "load_torch", "require_finite", "save_npz", "save_torch",
           "write_json_atomic", "write_text_atomic"]
