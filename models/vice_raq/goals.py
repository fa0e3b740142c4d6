"""Goal examples: generated from ground truth in simulation, stored as a folder of PNG images.

``anima goals collect --task push -n 80 -o DIR`` writes ``goal_000.png`` ... and ``goals.yaml``
(task, image size, seed, how they were made). A goal image is the scene in its goal configuration
(the env's :meth:`~anima.sim_bridge.envs.sawyer.SawyerEnv.goal_image`, the success predicate true)
with the arm moved to a random pose above the table, so the classifier learns the objects' goal
and not one arm pose. On a robot an operator captures goal examples from the live camera with the
panel's *capture goal* button into the same kind of folder. :func:`load_goal_folder` reads a folder
and reports every unreadable or mismatched image by file name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from anima.models.checkpoint import atomic_write, write_text_atomic

__all__ = ["GoalFolderError", "collect_goal_images", "load_goal_folder", "write_goal_folder", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARM_BOX_M = ((0.45, -0.2, 0.14), (0.75, 0.25, 0.3))  # where the arm is put in goal images (above the objects)


class GoalFolderError(ValueError):
    """A goal folder cannot be used; the message names the folder and every bad file."""


def collect_goal_images(task: str, n: int, seed: int = 0, image_size_px: int = 48, env_kwargs: dict | None = None,
                        max_tries: int = 4) -> np.ndarray:
    """``n`` goal images ``(n, H, W, 3)`` uint8 of ``sawyer_<task>``, each checked by the success predicate."""
    from anima.sim_bridge.envs import make_env

    if n < 1:
        raise ValueError(f"number of goal examples must be >= 1, got {n}")
    env = make_env(f"sawyer_{task}", observation="image", image_size_px=image_size_px, **(env_kwargs or {}))
    rng = np.random.default_rng(seed)
    images = []
    try:
        k = 0
        while len(images) < n:
            if k >= n * max_tries:
                raise RuntimeError(f"only {len(images)} of {n} {task} goal images kept their success predicate")
            image = _goal_image(env.unwrapped, seed * 100_003 + k, rng)
            k += 1
            if image is not None:
                images.append(image)
    finally:
        env.close()
    return np.stack(images)


def _goal_image(env, seed: int, rng: np.random.Generator) -> np.ndarray | None:
    """The goal configuration, the arm at a random pose in ``ARM_BOX_M``, settled; None if no longer a success."""
    env.goal_image(seed=seed)
    lo, hi = (np.array(b) for b in ARM_BOX_M)
    try:
        env.world.teleport_ee(rng.uniform(lo, hi))
    except ValueError:  # unreachable pose: keep the arm where it is
        pass
    q = env.world.read_joints().position
    env.path.reset(q)
    for _ in range(5):
        env._run_target(q)
    if not env.world.success():
        return None
    return env.world.render()


def write_goal_folder(images: np.ndarray, folder: str | Path, task: str, seed: int, source: str = "ground truth") -> list[Path]:
    """Write ``images`` as ``goal_NNN.png`` (atomically) and a ``goals.yaml`` manifest; returns the image paths."""
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        ok, data = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
        if not ok:
            raise ValueError(f"cannot encode goal image {i} as PNG")
        path = folder / f"goal_{i:03d}.png"
        with atomic_write(path) as f:
            f.write(data.tobytes())
        paths.append(path)
    manifest = {"task": task, "count": len(images), "image_size_px": int(images.shape[1]), "seed": seed, "source": source}
    write_text_atomic(folder / "goals.yaml", yaml.safe_dump(manifest, sort_keys=False))
    return paths


def load_goal_folder(folder: str | Path, image_size_px: int, limit: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Every image in ``folder`` (sorted by name) as ``(n, H, W, 3)`` uint8 RGB and their file names.

    GoalFolderError when the folder is missing or holds no image, or naming each file that cannot be
    read or is not an ``image_size_px``² colour image. ``limit``: use the first ``limit`` images only.
    """
    import cv2

    folder = Path(folder)
    if not folder.is_dir():
        raise GoalFolderError(f"{folder}: no such goal folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise GoalFolderError(f"{folder}: no goal images ({'/'.join(IMAGE_SUFFIXES)}) in the folder")
    images, names, bad = [], [], []
    for path in files:
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None:
            bad.append(f"{path.name}: unreadable (not an image, or corrupt)")
            continue
        if raw.ndim != 3 or raw.shape[2] != 3 or raw.dtype != np.uint8:
            bad.append(f"{path.name}: {raw.shape} {raw.dtype}, expected a 3-channel 8-bit colour image")
            continue
        if raw.shape[:2] != (image_size_px, image_size_px):
            bad.append(f"{path.name}: {raw.shape[1]}x{raw.shape[0]} pixels, expected {image_size_px}x{image_size_px}")
            continue
        images.append(cv2.cvtColor(raw, cv2.COLOR_BGR2RGB))
        names.append(path.name)
    if bad:
        raise GoalFolderError(f"{folder}: {len(bad)} of {len(files)} goal images cannot be used: " + "; ".join(bad))
    if limit is not None:
        images, names = images[:limit], names[:limit]
    return np.stack(images), names
