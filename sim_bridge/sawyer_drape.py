"""The ``drape`` scene: drape a cloth held by the gripper over a box (VICE-RAQ, Singh et al., RSS 2019,
Sec. VI "draping a cloth over a box").

The cloth is a PyBullet deformable (mass-spring with bending springs, in a world created with
``RESET_USE_DEFORMABLE_WORLD``), a square grid mesh written to a private temporary file when the
scene is built (nothing is fetched). The episode starts with the cloth's top edge anchored to the
nearly closed gripper (the robot holds it along a rod, so the anchors keep their offsets to the
hand); opening the gripper past ``release_opening_m`` lets go of it. The box is static.

Success: the cloth's centroid lies within 4 cm of the box centre in the table plane, and at least
80 % of a 5×5 grid of probe points on the box top are covered (a cloth node within 3 cm across,
no lower than 5 mm under the top).
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from anima.sim_bridge.sawyer_scenes import ObjectState, Scene, primitive_body

if TYPE_CHECKING:
    from anima.sim_bridge.sawyer_world import SawyerWorld

__all__ = ["DrapeScene", "write_cloth_obj"]


def write_cloth_obj(path: str, size_m: float, n: int) -> None:
    """A flat ``n``×``n``-node square grid of side ``size_m`` in the x-z plane (y = 0), centred on
    x, with its top edge at z = 0, as a Wavefront OBJ of triangles."""
    lines = []
    for i in range(n):          # rows, top (z = 0) to bottom
        for j in range(n):      # columns along x
            lines.append(f"v {(j / (n - 1) - 0.5) * size_m:.6f} 0 {-i / (n - 1) * size_m:.6f}")
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = i * n + j + 1, i * n + j + 2, (i + 1) * n + j + 1, (i + 1) * n + j + 2
            lines += [f"f {a} {c} {b}", f"f {b} {c} {d}"]
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


class DrapeScene(Scene):
    """A 0.24 m cloth held by the gripper along its top edge, and a 0.14 × 0.14 × 0.10 m box."""

    name = "drape"
    cloth_size_m, cloth_nodes, cloth_mass_kg = 0.24, 9, 0.05
    box_center = np.array([0.72, 0.0])
    box_half = (0.07, 0.07, 0.05)
    hold_opening_m, release_opening_m = 0.005, 0.02

    def _build(self) -> None:
        c = self.client
        self._dir = tempfile.TemporaryDirectory(prefix="anima_cloth_")
        self._obj = os.path.join(self._dir.name, "cloth.obj")
        write_cloth_obj(self._obj, self.cloth_size_m, self.cloth_nodes)
        h = self.box_half
        self._add("box", primitive_body(c, [(pybullet.GEOM_BOX, h, (0.0, 0.0, 0.0))], (0.2, 0.45, 0.75, 1.0), 0.0,
                                        (*self.box_center, h[2])), (0.2, 0.45, 0.75, 1.0))
        self.cloth_id = -1
        self._anchors: list[int] = []

    def is_deformable(self, name: str) -> bool:
        return name == "cloth"

    def _load_cloth(self, position: np.ndarray, orientation: tuple) -> None:
        c = self.client
        if self.cloth_id >= 0:
            c.removeBody(self.cloth_id)
        self.cloth_id = c.loadSoftBody(
            self._obj, basePosition=list(map(float, position)), baseOrientation=list(orientation), scale=1.0,
            mass=self.cloth_mass_kg, useNeoHookean=0, useBendingSprings=1, useMassSpring=1,
            springElasticStiffness=40.0, springDampingStiffness=0.1, springBendingStiffness=2.0,
            useSelfCollision=0, frictionCoeff=0.5, useFaceContact=1, collisionMargin=0.004)
        c.changeVisualShape(self.cloth_id, -1, rgbaColor=list(self.colors.get("cloth", (0.9, 0.8, 0.2, 1.0))),
                            flags=pybullet.VISUAL_SHAPE_DOUBLE_SIDED)
        self.bodies["cloth"] = self.cloth_id
        self.colors.setdefault("cloth", (0.9, 0.8, 0.2, 1.0))
        self._anchors = []

    def nodes(self) -> np.ndarray:
        """Cloth node positions (N, 3), world frame."""
        _, verts = self.client.getMeshData(self.cloth_id, -1, flags=pybullet.MESH_DATA_SIMULATION_MESH)
        return np.asarray(verts, dtype=float)

    def start_poses(self, rng):
        return {}

    def goal_poses(self):
        return {}

    def reset(self, world: SawyerWorld, rng: np.random.Generator | None) -> None:
        """Cloth hanging from the gripper, its plane across the arm (rotated 90° about z), top edge anchored."""
        world.reset_gripper(self.hold_opening_m)
        ee = world.ee_position()
        yaw = 0.0 if rng is None else float(rng.uniform(-0.1, 0.1))
        orn = self.client.getQuaternionFromEuler([0.0, 0.0, np.pi / 2 + yaw])
        self._load_cloth(ee + np.array([0.0, 0.0, -0.01]) + self._jitter(rng) * 0.5, orn)
        nodes = self.nodes()
        top = np.flatnonzero(nodes[:, 2] > nodes[:, 2].max() - 1e-4)
        for k in top:
            self._anchors.append(self.client.createSoftBodyAnchor(self.cloth_id, int(k), world.robot_id,
                                                                  world.hand_link))
        # PyBullet draws a soft body's mesh as of the last physics step: one step (2 ms) makes the
        # cloth appear in the first image of the episode.
        world.step(1)

    def on_gripper(self, world: SawyerWorld, opening_m: float) -> None:
        """Opening the gripper past ``release_opening_m`` releases the cloth."""
        if opening_m > self.release_opening_m and self._anchors:
            for anchor in self._anchors:
                self.client.removeConstraint(anchor)
            self._anchors = []

    @property
    def held(self) -> bool:
        """Whether the gripper holds the cloth."""
        return bool(self._anchors)

    def place_at_goal(self, world: SawyerWorld) -> None:
        """Cloth released flat above the box centre, then left to settle over it for 1.5 s (the arm is
        put back where it was afterwards)."""
        q = world.true_joints().position
        flat = self.client.getQuaternionFromEuler([np.pi / 2, 0.0, 0.0])  # grid plane x-z -> x-y
        top_z = 2 * self.box_half[2]
        self._load_cloth(np.array([*self.box_center, top_z + 0.03]) + np.array([0.0, -self.cloth_size_m / 2, 0.0]),
                         flat)
        world.step(int(round(1.5 / world.physics_dt)))
        world.set_joint_state(q)

    def object_states(self) -> list[ObjectState]:
        out = [s for s in super().object_states() if s.name != "cloth"]
        nodes = self.nodes()
        out.append(ObjectState("cloth", nodes.mean(axis=0), np.array([0.0, 0.0, 0.0, 1.0]), np.zeros(3), np.zeros(3)))
        return out

    def metrics(self, world):
        nodes = self.nodes()
        top_z = 2 * self.box_half[2]
        g = np.linspace(-0.8, 0.8, 5)
        probes = np.array([[self.box_center[0] + a * self.box_half[0], self.box_center[1] + b * self.box_half[1]]
                           for a in g for b in g])
        high = nodes[nodes[:, 2] >= top_z - 0.005]
        if len(high):
            d = np.linalg.norm(probes[:, None, :] - high[None, :, :2], axis=2).min(axis=1)
            coverage = float((d < 0.03).mean())
        else:
            coverage = 0.0
        return {"cloth_box_distance_m": float(np.linalg.norm(nodes[:, :2].mean(axis=0) - self.box_center)),
                "box_top_coverage": coverage}

    def success(self, world):
        m = self.metrics(world)
        return m["cloth_box_distance_m"] < 0.04 and m["box_top_coverage"] >= 0.8
