"""Type stub of the native module ``kinegrad._native`` (Rust, PyO3).

Arrays are float64 numpy arrays whose first dimension is the env (n_envs >= 1).
Errors: ValueError for bad input or model files, FileNotFoundError for missing
files, RuntimeError for divergence or an internal engine error.
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
#: a camera: (pos, lookat, up, fov (degrees), width, height, near, far)
Cam = Tuple[Sequence[float], Sequence[float], Sequence[float], float, int, int, float, float]

#: control mode codes of int8 mode arrays: [("force", 0), ("position", 1), ("velocity", 2)]
CONTROL_MODES: List[Tuple[str, int]]
#: floats of one body's reading in ``Sim.kinematics``, and (name, offset, length) of its quantities
LINK_STATE: int
LINK_FIELDS: List[Tuple[str, int, int]]

class SceneBuilder:
    def __init__(
        self,
        timestep: float = 0.01,
        substeps: int = 1,
        gravity: Sequence[float] = (0.0, 0.0, -9.81),
        integrator: str = "implicitfast",
        enable_collision: bool = True,
        enable_joint_limit: bool = True,
        enable_self_collision: bool = False,
        iterations: int = 100,
        tolerance: float = 1e-8,
        ls_iterations: int = 50,
        constraint_timeconst: Optional[float] = None,
        impratio: float = 1.0,
        enable_equality: bool = True,
        enable_frictionloss: bool = True,
        implicit_constraints: bool = False,
    ) -> None:
        """integrator: "euler", "implicitfast" or "RK4"."""
    def add_urdf(
        self, path: str, scale: float, pos: Sequence[float], quat: Sequence[float], fixed: bool, friction: Optional[float] = None,
        collision: bool = True, default_armature: Optional[float] = None,
    ) -> Tuple[int, List[str]]:
        """Returns (entity index, loader warnings). quat is (w, x, y, z)."""
    def add_mjcf(
        self, path: str, scale: float, pos: Sequence[float], quat: Sequence[float], friction: Optional[float] = None,
        collision: bool = True, default_armature: Optional[float] = None,
    ) -> Tuple[int, List[str]]: ...
    def add_mjcf_text(
        self, text: str, path: str, scale: float, pos: Sequence[float], quat: Sequence[float],
        friction: Optional[float] = None, collision: bool = True, default_armature: Optional[float] = None,
    ) -> Tuple[int, List[str]]: ...
    def add_primitive(
        self,
        kind: str,
        dims: Sequence[float],
        pos: Sequence[float],
        quat: Sequence[float],
        fixed: bool,
        rho: float = 200.0,
        friction: Optional[float] = None,
        collision: bool = True,
        contype: Optional[int] = None,
        conaffinity: Optional[int] = None,
    ) -> int:
        """kind: plane (dims = normal), box (full sizes), sphere (radius), cylinder / capsule (radius, height)."""
    def build(self, n_envs: int) -> Sim: ...

class Sim:
    @property
    def n_envs(self) -> int: ...
    @property
    def nq(self) -> int: ...
    @property
    def nv(self) -> int: ...
    @property
    def nbody(self) -> int: ...
    def describe(self) -> Dict[str, Any]:
        """Keys: nq nv nbody njnt ngeom timestep substeps; body_name body_parent body_entity
        body_jnt_adr body_jnt_num body_dof_adr body_dof_num; jnt_name jnt_type ('free' 'ball'
        'slide' 'hinge') jnt_nq jnt_nv jnt_quat_offset (the kind's sizes and the offset of its
        quaternion block in its coordinates, -1 without one) jnt_body jnt_qpos_adr jnt_dof_adr
        jnt_limited jnt_range; dof_body dof_jnt; act_channel (the channel of each activation);
        geom_name geom_type geom_body geom_size; qpos0; entity_name entity_{body,jnt,dof,qpos,geom}_{adr,num};
        actuators (list of dicts name, dof, mode, ctrl_range, and target_range: the channel target range ctrl_range maps to). -1 stands for "none"."""
    @staticmethod
    def param_names() -> List[str]: ...
    def param_default(self, name: str) -> npt.NDArray[np.float64]: ...
    def get_param(self, name: str) -> npt.NDArray[np.float64]:
        """(n_envs, *shape): gravity (3), body_mass (nbody), body_ipos (nbody, 3), body_inertia (nbody, 3, 3),
        dof_damping / dof_armature / dof_kp / dof_kv / dof_stiffness (nv), dof_force_range (nv, 2), geom_friction (ngeom, 3)."""
    def set_param(self, name: str, value: npt.NDArray[np.float64]) -> None: ...
    def get_qpos(self) -> F64:
        """(n_envs, nq)"""
    def get_qvel(self) -> F64:
        """(n_envs, nv)"""
    def get_time(self) -> List[float]: ...
    def set_state(self, qpos: F64, qvel: F64, time: Optional[float] = None) -> None: ...
    @property
    def na(self) -> int:
        """Activation states (the control channels with actuator dynamics, MuJoCo's dyntype)."""
    def get_act(self) -> F64:
        """(n_envs, na), in the channels' target units."""
    def set_act(self, act: F64) -> None: ...
    def set_control(self, mode: npt.NDArray[np.int8], target: F64) -> None:
        """mode (n_envs, nv): 0 force, 1 position (PD), 2 velocity; target (n_envs, nv)."""
    def step(self, nsteps: int = 1) -> None:
        """Step every env in parallel with the GIL released."""
    def kinematics(self, qpos: F64, qvel: F64) -> F64:
        """Every body's reading (n_envs, nbody, LINK_STATE): position, quaternion wxyz, linear velocity of the
        body origin and angular velocity, world frame, at the offsets and lengths LINK_FIELDS."""
    def step_functional(
        self, qpos: F64, qvel: F64, mode: npt.NDArray[np.int8], target: F64, nsteps: int = 1, act: Optional[F64] = None
    ) -> Tuple[F64, F64, F64]:
        """Step copies of the given states (the stored env states are untouched); quaternions normalized first.
        Returns (qpos, qvel, act)."""
    def step_vjp(
        self, qpos_in: F64, qvel_in: F64, mode: npt.NDArray[np.int8], target: F64, qpos_out_bar: F64, qvel_out_bar: F64,
        act_in: Optional[F64] = None, act_out_bar: Optional[F64] = None,
    ) -> Tuple[F64, F64, F64, Dict[str, F64], F64]:
        """Reverse of one step: (qpos_bar, qvel_bar, target_bar, params_bar name -> (n_envs, *shape), act_bar)."""
    def kinematics_vjp(self, qpos: F64, qvel: F64, bar: F64) -> Tuple[F64, F64, Dict[str, F64]]:
        """Reverse of ``kinematics``: (qpos_bar, qvel_bar, params_bar)."""
    def contacts(self, env: int) -> List[Dict[str, Any]]:
        """Dicts with geom1 geom2 body1 body2 pos normal dist force (world, on geom2) force_normal."""
    def geom_aabbs(self, qpos: F64) -> F64:
        """(n_envs, ngeom, 2, 3): every geom's world bounding box, min then max."""
    def mass_matrix(self, qpos: np.ndarray) -> np.ndarray:
        """M(q) (nv, nv) with env 0's parameters, armature included."""
    def inverse_dynamics(self, qpos: np.ndarray, qvel: np.ndarray, qacc: np.ndarray) -> np.ndarray:
        """M(q) a + c(q, v) (nv,) with env 0's parameters, armature excluded."""

class Renderer:
    """Offscreen CPU rasterizer of a Sim's model (made by the first camera render of a scene)."""

    def __init__(self, sim: Sim) -> None: ...
    def drawn_geoms(self) -> List[int]:
        """Visual geoms, and colliding geoms of bodies without visual ones."""
    def triangle_count(self) -> int: ...
    def geom_rgba(self) -> npt.NDArray[np.float32]:
        """(ngeom, 4) colours in [0, 1]."""
    def set_geom_rgba(self, rgba: npt.NDArray[np.float32]) -> None:
        """(ngeom, 4) colours in [0, 1]; alpha 0 hides a geom."""
    def set_background(self, rgb: Sequence[float]) -> None: ...
    def render(
        self, sim: Sim, qpos: F64, cam: Cam, rgb: bool = True, depth: bool = False, seg: bool = False,
        normal: bool = False, env: int = 0,
    ) -> Tuple[Optional[npt.NDArray[np.uint8]], Optional[npt.NDArray[np.float32]], Optional[npt.NDArray[np.int32]], Optional[npt.NDArray[np.float32]]]:
        """Configuration qpos (nq,) with env ``env``'s parameters -> (rgb (H, W, 3) uint8, depth (H, W) metres
        along the axis, seg (H, W) geom index or -1, normal (H, W, 3) world frame), None unless requested."""
    def render_rgb_sequence(self, sim: Sim, qpos: F64, cam: Cam, env: int = 0) -> npt.NDArray[np.uint8]:
        """qpos (T, nq) -> RGB frames (T, H, W, 3) uint8."""
