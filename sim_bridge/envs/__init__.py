"""Gymnasium environments built on Anima's worlds, for in-process training (no ROS).

``make_env(name, **kwargs)`` builds one by task name; heavy worlds are imported only when asked for.
Names: ``reacher`` (planar two-link reacher, numpy physics), ``reacher_pixels`` (the same arm
observed through 64x64 images, fixed target: SOLAR's task), ``baoding`` (ShadowHand + two balls on
``BaodingWorld``, PyBullet), ``laikago_imitation`` (Laikago imitating a reference motion),
``sawyer`` (``scene=...``) and ``sawyer_<scene>`` (Sawyer arm, end-effector actions, images).
"""

from __future__ import annotations

import importlib
from typing import Any

ENVS: dict[str, str] = {
    "reacher": "anima.sim_bridge.envs.planar_reacher:PlanarReacherEnv",
    "reacher_pixels": "anima.sim_bridge.envs.reacher_pixels:ReacherPixelsEnv",
    "baoding": "anima.sim_bridge.envs.baoding:BaodingEnv",
    "laikago_imitation": "anima.sim_bridge.envs.laikago_imitation:LaikagoImitationEnv",
    "sawyer": "anima.sim_bridge.envs.sawyer:SawyerEnv",
    **{f"sawyer_{scene}": f"anima.sim_bridge.envs.sawyer:Sawyer{scene.capitalize()}Env"
       for scene in ("reach", "push", "stack", "mug", "bookshelf", "drape")},
}


def make_env(name: str, **kwargs: Any) -> Any:
    """Construct environment ``name`` (see ``ENVS``) with keyword arguments for its constructor."""
    if name not in ENVS:
        raise ValueError(f"unknown environment {name!r}; known: {sorted(ENVS)}")
    module, cls = ENVS[name].split(":")
    return getattr(importlib.import_module(module), cls)(**kwargs)
