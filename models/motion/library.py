"""The shipped Laikago reference-motion library, and how it is built.

Every clip is made here from procedural dog motions (:mod:`anima.models.retarget.generator`)
or keyframes (:mod:`anima.models.retarget.keyframes`), retargeted to the robot and post-
processed with :mod:`anima.models.motion.transforms`; ``anima motion build`` rewrites
``models/motion/data/*.json``. Gait clips are generated with one extra cycle on each side and
cut to whole cycles, so stance phases at the cut are handled like all others and the loop closes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from anima.models.motion.format import ReferenceMotion, save_motion
from anima.models.motion.transforms import blend_loop_seam, mirror, reverse
from anima.models.retarget.generator import DogSkeleton, GaitParams, generate_gait
from anima.models.retarget.keyframes import hop_turn_keyframes, motion_from_keyframes
from anima.models.retarget.retarget import Retargeter

DATA_DIR = Path(__file__).resolve().parent / "data"

# The source dog of the shipped clips. The original retargeting maps marker lengths 1:1 (Laikago's
# REF_POS_SCALE is 1.0), so the dog is Laikago-sized: its shoulders and hips sit where the robot's
# hip joints are (x 0.2429 / -0.1944 m, y +-0.0817 m from the body origin) when its pelvis-neck
# midpoint is the robot's base (the chassis' inertial origin, 0.0438 m ahead and 0.03 m above the
# body origin); the neck marker sits 2.5 cm low, which the original's forward offset (0, 0, 0.025)
# levels; fore toe markers rest 1 cm above the hind ones, which the original's hind toe offset
# (z + 0.01) evens out, so every toe lands at the toe sphere's radius (0.03 m).
LAIKAGO_SIZED_DOG = DogSkeleton(
    body_length_m=0.43729, shoulder_width_m=0.163429, hip_width_m=0.163429, shoulder_height_m=0.41,
    hip_height_m=0.41, neck_forward_m=0.12, pelvis_back_m=0.08088, spine_up_m=0.0425, neck_drop_m=0.025,
    fore_toe_height_m=0.03, hind_toe_height_m=0.02,
)

# name -> (gait parameters, cycles kept). Speeds/strides are dog-like at the robot's scale.
GAIT_CLIPS: dict[str, GaitParams] = {
    "dog_trot": GaitParams("trot", speed_m_s=0.8, stride_m=0.4, duty_factor=0.5, step_height_m=0.07, cycles=2),
    "dog_pace": GaitParams("pace", speed_m_s=0.6, stride_m=0.36, duty_factor=0.55, step_height_m=0.06, cycles=2),
    "dog_walk": GaitParams("walk", speed_m_s=0.4, stride_m=0.32, duty_factor=0.7, step_height_m=0.06, cycles=2),
    "dog_bound": GaitParams("bound", speed_m_s=1.0, stride_m=0.5, duty_factor=0.4, step_height_m=0.06,
                            pitch_amplitude_rad=0.08, cycles=2),
    "dog_spin": GaitParams("trot", speed_m_s=0.0, period_s=0.5, duty_factor=0.55, turn_rate_rad_s=1.2,
                           step_height_m=0.06, cycles=4),
    "dog_trot_turn_left": GaitParams("trot", speed_m_s=0.6, stride_m=0.3, duty_factor=0.5, turn_rate_rad_s=0.6,
                                     step_height_m=0.06, cycles=4),
}


def retarget_gait(rt: Retargeter, params: GaitParams) -> ReferenceMotion:
    """Generate ``params.cycles + 2`` cycles, retarget, keep the middle cycles, close the loop."""
    padded = GaitParams(**{**vars(params), "cycles": params.cycles + 2})
    kp = generate_gait(padded, LAIKAGO_SIZED_DOG)
    per_cycle = int(round(params.period * params.fps))
    result = rt.retarget(kp, frames=slice(per_cycle, per_cycle * (params.cycles + 1) + 1))
    info = {**result.motion.info, "gait": vars(params)}
    return blend_loop_seam(result.motion.with_frames(result.motion.frames, info=info), blend_frames=6)


def build_clips(rt: Retargeter) -> dict[str, ReferenceMotion]:
    """All shipped clips by name."""
    clips = {name: retarget_gait(rt, p) for name, p in GAIT_CLIPS.items()}
    clips["dog_walk_backwards"] = reverse(clips["dog_walk"])
    clips["dog_trot_backwards"] = reverse(clips["dog_trot"])
    clips["dog_trot_turn_right"] = mirror(clips["dog_trot_turn_left"], rt.config.mirror_joint_permutation,
                                          rt.config.mirror_joint_signs)
    hop, _ = motion_from_keyframes(rt, hop_turn_keyframes(rt), frame_duration=1.0 / 30.0)
    clips["hop_turn"] = hop
    return clips


def build_library(rt: Retargeter, out_dir: Path = DATA_DIR, log: Callable[[str], None] = print) -> list[Path]:
    """Write every clip as ``<out_dir>/<name>.json``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, clip in sorted(build_clips(rt).items()):
        path = out_dir / f"{name}.json"
        save_motion(clip, path)
        log(f"wrote {path} ({clip.num_frames} frames)")
        paths.append(path)
    return paths


def shipped_motions() -> list[Path]:
    """Paths of the motions shipped in the package, sorted."""
    return sorted(DATA_DIR.glob("*.json"))


def find_motion(name_or_path: str) -> Path:
    """A file path, or the name of a shipped motion (``dog_trot``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = DATA_DIR / f"{name_or_path}.json"
    if shipped.is_file():
        return shipped
    raise ValueError(f"{name_or_path}: no such file or shipped motion (see `anima motion list`)")
