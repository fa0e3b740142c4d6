"""Table-top scenes of the Sawyer world: objects, start and goal placements, success predicates.

The tasks of SOLAR (Zhang, Vikram et al., ICML 2019, Sec. 6: reach, block stacking, pushing a mug
onto a coaster) and VICE-RAQ (Singh et al., RSS 2019, Sec. VI: pushing, inserting a book into a
shelf slot, draping a cloth over a box). Every object is built from primitives (TINY_RENDERER is
fast only with primitives). Goals are fixed per scene (a goal classifier learns one goal);
starts are jittered by the episode's generator. The table top is the world plane z = 0.

A scene knows its bodies, puts them at the start (:meth:`Scene.reset`) or at the goal by ground
truth (:meth:`Scene.place_at_goal`, e.g. for goal images), and judges :meth:`Scene.success`.
The deformable ``drape`` scene lives in :mod:`anima.sim_bridge.sawyer_drape`.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

if TYPE_CHECKING:
    from anima.sim_bridge.sawyer_world import SawyerWorld

__all__ = ["ObjectState", "Scene", "SCENES", "make_scene", "primitive_body"]

_UPRIGHT = (0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class ObjectState:
    """Ground truth of one object, world frame: position (m), orientation (x, y, z, w), velocities."""

    name: str
    position: np.ndarray
    orientation_xyzw: np.ndarray
    linear_velocity: np.ndarray
    angular_velocity: np.ndarray


def primitive_body(client: BulletClient, shapes: list[tuple[int, Any, tuple[float, float, float]]],
                   rgba: tuple[float, ...], mass: float, position: tuple[float, float, float],
                   collide: bool = True) -> int:
    """A body of primitive shapes ``(geom, size, local offset)``; size: half extents (box),
    radius (sphere) or (radius, length) (cylinder). ``collide=False`` makes a visual-only marker."""
    kinds, radii, halves, lengths, offsets = [], [], [], [], []
    for geom, size, offset in shapes:
        kinds.append(geom)
        radii.append(size if geom == pybullet.GEOM_SPHERE else size[0] if geom == pybullet.GEOM_CYLINDER else 0.0)
        halves.append(list(size) if geom == pybullet.GEOM_BOX else [0.0, 0.0, 0.0])
        lengths.append(size[1] if geom == pybullet.GEOM_CYLINDER else 0.0)
        offsets.append(list(offset))
    vis = client.createVisualShapeArray(kinds, radii=radii, halfExtents=halves, lengths=lengths,
                                        rgbaColors=[list(rgba)] * len(kinds), visualFramePositions=offsets)
    col = -1
    if collide:
        col = client.createCollisionShapeArray(kinds, radii=radii, halfExtents=halves, lengths=lengths,
                                               collisionFramePositions=offsets)
    return client.createMultiBody(mass, col, vis, list(position))


def _box(half: tuple[float, float, float], offset: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> tuple:
    return (pybullet.GEOM_BOX, half, offset)


def _cyl(radius: float, length: float, offset: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> tuple:
    return (pybullet.GEOM_CYLINDER, (radius, length), offset)


class Scene(abc.ABC):
    """Objects of one task. ``bodies``: name -> body id (movable objects first, then fixtures and
    goal markers); ``colors``: name -> nominal RGBA, for colour randomization."""

    name: str = ""
    start_jitter_m: float = 0.02

    def __init__(self, client: BulletClient) -> None:
        self.client = client
        self.bodies: dict[str, int] = {}
        self.colors: dict[str, tuple[float, ...]] = {}
        self._build()

    def _add(self, name: str, body: int, rgba: tuple[float, ...], friction: float | None = None) -> int:
        self.bodies[name] = body
        self.colors[name] = tuple(rgba)
        if friction is not None:
            # Friction anchors keep resting contacts where they are (no slow creep of a block
            # on a block: 2.5 mm in 60 s without them, measured).
            self.client.changeDynamics(body, -1, lateralFriction=friction, spinningFriction=0.001,
                                       rollingFriction=0.0, frictionAnchor=1)
        return body

    @abc.abstractmethod
    def _build(self) -> None:
        """Create the scene's bodies."""

    @abc.abstractmethod
    def start_poses(self, rng: np.random.Generator | None) -> dict[str, tuple[np.ndarray, tuple]]:
        """Name -> (position, orientation) of every movable object at the episode start."""

    @abc.abstractmethod
    def goal_poses(self) -> dict[str, tuple[np.ndarray, tuple]]:
        """Name -> (position, orientation) of the movable objects in a goal configuration."""

    @abc.abstractmethod
    def metrics(self, world: SawyerWorld) -> dict[str, float]:
        """Task distances (m, rad) the success predicate is judged on."""

    @abc.abstractmethod
    def success(self, world: SawyerWorld) -> bool:
        """Whether the task is achieved in the current ground truth."""

    def on_gripper(self, world: SawyerWorld, opening_m: float) -> None:
        """Hook: the gripper was commanded to ``opening_m`` (m per finger)."""

    def is_deformable(self, name: str) -> bool:
        """True for soft bodies (their mass and friction are not randomized like a rigid body's)."""
        return False

    def _place(self, poses: dict[str, tuple[np.ndarray, tuple]]) -> None:
        for name, (pos, orn) in poses.items():
            self.client.resetBasePositionAndOrientation(self.bodies[name], list(map(float, pos)), list(orn))
            self.client.resetBaseVelocity(self.bodies[name], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])

    def reset(self, world: SawyerWorld, rng: np.random.Generator | None) -> None:
        """Objects at the start, at rest."""
        self._place(self.start_poses(rng))

    def place_at_goal(self, world: SawyerWorld) -> None:
        """Objects (or the arm) in a goal configuration, by ground truth."""
        self._place(self.goal_poses())

    def _jitter(self, rng: np.random.Generator | None) -> np.ndarray:
        return np.zeros(3) if rng is None else np.append(rng.uniform(-1, 1, 2) * self.start_jitter_m, 0.0)

    def object_states(self) -> list[ObjectState]:
        out = []
        for name, body in self.bodies.items():
            pos, orn = self.client.getBasePositionAndOrientation(body)
            lin, ang = self.client.getBaseVelocity(body)
            out.append(ObjectState(name, np.array(pos), np.array(orn), np.array(lin), np.array(ang)))
        return out

    def position(self, name: str) -> np.ndarray:
        return np.array(self.client.getBasePositionAndOrientation(self.bodies[name])[0])

    def tilt(self, name: str) -> float:
        """Angle between the object's z axis and the world's (rad)."""
        orn = self.client.getBasePositionAndOrientation(self.bodies[name])[1]
        z = np.array(self.client.getMatrixFromQuaternion(orn)).reshape(3, 3)[:, 2]
        return float(math.acos(max(-1.0, min(1.0, z[2]))))

    def randomize_colors(self, rng: np.random.Generator | None, jitter: float) -> None:
        """Each object's RGB jittered by up to ``jitter`` (None: nominal colours)."""
        for name, rgba in self.colors.items():
            rgb = np.array(rgba[:3])
            if rng is not None:
                rgb = np.clip(rgb + rng.uniform(-jitter, jitter, 3), 0.0, 1.0)
            self.client.changeVisualShape(self.bodies[name], -1, rgbaColor=[*rgb.tolist(), rgba[3]])


# ------------------------------------------------------------------------------------- scenes
class ReachScene(Scene):
    """Bring the end effector (grasp centre) within 3 cm of a fixed goal marker."""

    name = "reach"
    goal = np.array([0.65, 0.12, 0.12])
    tolerance_m = 0.03

    def _build(self) -> None:
        self._add("goal", primitive_body(self.client, [(pybullet.GEOM_SPHERE, 0.02, (0, 0, 0))], (0.1, 0.8, 0.2, 1.0),
                                         0.0, tuple(self.goal), collide=False), (0.1, 0.8, 0.2, 1.0))

    def start_poses(self, rng):
        return {}

    def goal_poses(self):
        return {}

    def place_at_goal(self, world: SawyerWorld) -> None:
        world.teleport_ee(self.goal)

    def metrics(self, world):
        return {"ee_goal_distance_m": float(np.linalg.norm(world.ee_position() - self.goal))}

    def success(self, world):
        return self.metrics(world)["ee_goal_distance_m"] < self.tolerance_m


class PushScene(Scene):
    """Push a puck onto a goal marker (success: centres within 4 cm in the table plane)."""

    name = "push"
    radius, height = 0.035, 0.04
    start = np.array([0.55, -0.12])
    goal = np.array([0.62, 0.12])
    tolerance_m = 0.04

    def _build(self) -> None:
        c, h = self.client, self.height
        self._add("puck", primitive_body(c, [_cyl(self.radius, h)], (0.15, 0.3, 0.9, 1.0), 0.2, (0.55, 0.0, h / 2)),
                  (0.15, 0.3, 0.9, 1.0), friction=0.5)
        self._add("goal", primitive_body(c, [_cyl(self.radius, 0.002)], (0.1, 0.8, 0.2, 1.0), 0.0,
                                         (*self.goal, 0.001), collide=False), (0.1, 0.8, 0.2, 1.0))

    def start_poses(self, rng):
        return {"puck": (np.append(self.start, self.height / 2) + self._jitter(rng), _UPRIGHT)}

    def goal_poses(self):
        return {"puck": (np.append(self.goal, self.height / 2), _UPRIGHT)}

    def metrics(self, world):
        return {"puck_goal_distance_m": float(np.linalg.norm(self.position("puck")[:2] - self.goal))}

    def success(self, world):
        return self.metrics(world)["puck_goal_distance_m"] < self.tolerance_m


class StackScene(Scene):
    """Put the red block on the blue one (centres within 2 cm across, 1 cm of one block height up)."""

    name = "stack"
    half = 0.025
    start_a, start_b = np.array([0.55, -0.1]), np.array([0.65, 0.1])

    def _build(self) -> None:
        c, h = self.client, self.half
        self._add("block_a", primitive_body(c, [_box((h, h, h))], (0.85, 0.15, 0.1, 1.0), 0.1, (0.5, 0, h)),
                  (0.85, 0.15, 0.1, 1.0), friction=0.8)
        self._add("block_b", primitive_body(c, [_box((h, h, h))], (0.15, 0.3, 0.9, 1.0), 0.1, (0.6, 0, h)),
                  (0.15, 0.3, 0.9, 1.0), friction=0.8)

    def start_poses(self, rng):
        return {"block_a": (np.append(self.start_a, self.half) + self._jitter(rng), _UPRIGHT),
                "block_b": (np.append(self.start_b, self.half) + self._jitter(rng), _UPRIGHT)}

    def goal_poses(self):
        return {"block_b": (np.append(self.start_b, self.half), _UPRIGHT),
                "block_a": (np.append(self.start_b, 3 * self.half + 0.0005), _UPRIGHT)}

    def metrics(self, world):
        a, b = self.position("block_a"), self.position("block_b")
        return {"stack_xy_offset_m": float(np.linalg.norm(a[:2] - b[:2])),
                "stack_height_error_m": float(abs(a[2] - b[2] - 2 * self.half))}

    def success(self, world):
        m = self.metrics(world)
        return m["stack_xy_offset_m"] < 0.02 and m["stack_height_error_m"] < 0.01


class MugScene(Scene):
    """Push a mug onto a coaster (centres within 3 cm, mug upright within 0.3 rad)."""

    name = "mug"
    radius, height = 0.04, 0.09
    start = np.array([0.55, -0.1])
    coaster = np.array([0.68, 0.1])

    def _build(self) -> None:
        c, r, h = self.client, self.radius, self.height
        mug = primitive_body(c, [_cyl(r, h), _box((0.008, 0.012, 0.025), (0.0, -(r + 0.008), 0.0))],
                             (0.95, 0.95, 0.9, 1.0), 0.3, (0.5, 0.0, h / 2))
        self._add("mug", mug, (0.95, 0.95, 0.9, 1.0), friction=0.5)
        self._add("coaster", primitive_body(c, [_cyl(0.06, 0.002)], (0.45, 0.25, 0.1, 1.0), 0.0,
                                            (*self.coaster, 0.001), collide=False), (0.45, 0.25, 0.1, 1.0))

    def start_poses(self, rng):
        return {"mug": (np.append(self.start, self.height / 2) + self._jitter(rng), _UPRIGHT)}

    def goal_poses(self):
        return {"mug": (np.append(self.coaster, self.height / 2), _UPRIGHT)}

    def metrics(self, world):
        return {"mug_coaster_distance_m": float(np.linalg.norm(self.position("mug")[:2] - self.coaster)),
                "mug_tilt_rad": self.tilt("mug")}

    def success(self, world):
        m = self.metrics(world)
        return m["mug_coaster_distance_m"] < 0.03 and m["mug_tilt_rad"] < 0.3


class BookshelfScene(Scene):
    """Slide a book lying on the table into the shelf's slot (its centre 5 cm past the shelf front,
    within 2.5 cm of the slot's centre line). The slot is a low horizontal opening at table level."""

    name = "bookshelf"
    book_half = (0.06, 0.045, 0.015)
    shelf_front_x, slot_y, slot_half_width, slot_height, depth = 0.72, 0.0, 0.06, 0.045, 0.2
    start = np.array([0.52, 0.0])

    def _build(self) -> None:
        c = self.client
        self._add("book", primitive_body(c, [_box(self.book_half)], (0.6, 0.1, 0.5, 1.0), 0.15,
                                         (0.5, 0.0, self.book_half[2])), (0.6, 0.1, 0.5, 1.0), friction=0.4)
        d, w, hgt, t = self.depth / 2, self.slot_half_width, self.slot_height, 0.01
        parts = [_box((d, t, hgt / 2 + t), (0.0, sign * (w + t), hgt / 2 + t)) for sign in (-1, 1)]
        parts.append(_box((d, w + 2 * t, t), (0.0, 0.0, hgt + t)))
        parts += [_box((d, 0.06, 0.06), (0.0, sign * (w + 2 * t + 0.06), 0.06)) for sign in (-1, 1)]
        shelf = primitive_body(c, parts, (0.55, 0.4, 0.25, 1.0), 0.0, (self.shelf_front_x + d, self.slot_y, 0.0))
        self._add("shelf", shelf, (0.55, 0.4, 0.25, 1.0))

    def start_poses(self, rng):
        jitter = self._jitter(rng) * np.array([1.0, 0.5, 0.0])
        return {"book": (np.append(self.start, self.book_half[2]) + jitter, _UPRIGHT)}

    def goal_poses(self):
        return {"book": (np.array([self.shelf_front_x + 0.08, self.slot_y, self.book_half[2]]), _UPRIGHT)}

    def metrics(self, world):
        p = self.position("book")
        return {"book_insertion_m": float(p[0] - self.shelf_front_x), "book_slot_offset_m": float(abs(p[1] - self.slot_y))}

    def success(self, world):
        m = self.metrics(world)
        return m["book_insertion_m"] > 0.05 and m["book_slot_offset_m"] < 0.025


def _drape_scene() -> type[Scene]:
    from anima.sim_bridge.sawyer_drape import DrapeScene

    return DrapeScene


SCENES: dict[str, Any] = {"reach": ReachScene, "push": PushScene, "stack": StackScene, "mug": MugScene,
                          "bookshelf": BookshelfScene, "drape": _drape_scene}
DEFORMABLE_SCENES = frozenset({"drape"})


def make_scene(name: str, client: BulletClient) -> Scene:
    """The scene called ``name``; an unknown name raises ``ValueError`` listing the valid ones."""
    if name not in SCENES:
        raise ValueError(f"unknown Sawyer scene {name!r}; valid scenes: {', '.join(sorted(SCENES))}")
    factory = SCENES[name]
    cls = factory() if name in DEFORMABLE_SCENES else factory
    return cls(client)
