"""``entity.plan_path`` with Genesis's signature: a collision-free joint-space path (RRT-Connect
or RRT, shortcut and resampled), planned natively for every env in parallel
(``Sim.plan_paths``, see ``kinegrad::plan``). The scene's state is not touched.

Planned are the entity's hinge and slide coordinates; a free or ball joint keeps its start
value along the path. Samples are drawn within the joints' ranges (an unlimited hinge in
[-pi, pi] and an unlimited slide within 1 m of the start and goal, widened to hold both). The
geom pairs in contact at the start or at the goal are ignored, as Genesis ignores them.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from . import _globals
from ._convert import env_rows
from ._errors import InvalidArgument

#: Genesis's settings of its planners: (largest step of a tree, goal bias)
_PLANNERS = {"RRTConnect": (0.05, 0.1), "RRT": (0.1, 0.05)}


def plan_path(
    entity,
    qpos_goal,
    qpos_start=None,
    max_nodes=2000,
    resolution=0.05,
    timeout=None,
    max_retry=1,
    smooth_path=True,
    num_waypoints=300,
    ignore_collision=False,
    planner="RRTConnect",
    envs_idx=None,
    return_valid_mask=False,
    ee_link_name=None,
    with_entity=None,
    **kwargs,
):
    entity._built("plan_path")
    if ee_link_name is not None or with_entity is not None:
        raise InvalidArgument("plan_path: planning with an attached object (ee_link_name, with_entity) is not supported by kinegrad")
    for key in kwargs:
        note = "deprecated in Genesis and ignored" if key == "ignore_joint_limit" else "not supported by kinegrad, ignored"
        warnings.warn(f"plan_path: option {key}={kwargs[key]!r} is {note}", stacklevel=3)
    if planner not in _PLANNERS:
        raise InvalidArgument(f"planner: expected 'RRTConnect' or 'RRT', got {planner!r}")
    for name, v in (("max_nodes", max_nodes), ("num_waypoints", num_waypoints)):
        if int(v) != v or v < 2:
            raise InvalidArgument(f"{name}: expected an integer >= 2, got {v!r}")
    if int(max_retry) != max_retry or max_retry < 0:
        raise InvalidArgument(f"max_retry: expected an integer >= 0, got {max_retry!r}")
    scene = entity._scene
    solver = scene.sim.rigid_solver
    sel = solver.select_envs(envs_idx)
    N = scene._n
    rows = np.arange(N) if sel is None else sel.numpy()
    n_sel = len(rows)
    d = entity._desc
    # the planned coordinates: the entity's hinge and slide joints
    coords, lower, upper = [], [], []
    for j in entity.joints:
        kind = d["jnt_type"][j.idx]
        if kind not in ("hinge", "slide"):
            continue
        coords.append(j.q_start)
        lo, hi = j.range if j.limited else ((-math.pi, math.pi) if kind == "hinge" else (math.inf, -math.inf))
        lower.append(lo)
        upper.append(hi)
    if not coords:
        raise InvalidArgument(f"plan_path: entity '{entity.name}' has no hinge or slide joint to plan")
    local = [c - entity.q_start for c in coords]
    q_all = scene._qpos.detach().to(torch.float64).numpy().copy()

    def per_env(value, name):
        return env_rows(value, name, (entity.n_qs,), n_sel, True).numpy()

    goal_q = per_env(qpos_goal, "qpos_goal")
    start_q = q_all[rows][:, entity.q_start : entity.q_start + entity.n_qs] if qpos_start is None else per_env(qpos_start, "qpos_start")
    # the rest of the configuration: the current state with the start written in
    q_all[rows, entity.q_start : entity.q_start + entity.n_qs] = start_q
    start = q_all[:, coords].copy()
    goal = start.copy()  # an unselected env plans a path of no length
    goal[rows] = goal_q[:, local]
    lower = np.minimum(np.array(lower), np.minimum(start, goal).min(0))
    upper = np.maximum(np.array(upper), np.maximum(start, goal).max(0))
    lower = np.where(np.isfinite(lower), lower, np.minimum(start, goal).min(0) - 1.0)
    upper = np.where(np.isfinite(upper), upper, np.maximum(start, goal).max(0) + 1.0)
    step, bias = _PLANNERS[planner]
    body_lo = entity.link_start + 1
    scene._params.sync()
    waypoints = found = None
    for attempt in range(int(max_retry) + 1):
        w, f = scene._native.plan_paths(
            q_all, start, goal, coords, lower.tolist(), upper.tolist(), body_lo, body_lo + entity.n_links,
            float(resolution), step, bias, int(max_nodes), None if timeout is None else float(timeout),
            bool(ignore_collision), bool(smooth_path), int(num_waypoints), 0.0, planner, 1000 * attempt,
        )
        if waypoints is None:
            waypoints, found = w, f
        else:  # a retry replaces the paths not found
            waypoints[~found], found = w[~found], found | f
        if found[rows].all():
            break
    # the entity's qpos along the path: the start's, the planned coordinates from the waypoints
    path = np.repeat(start_q[None], int(num_waypoints), axis=0)  # (W, n_sel, n_qs)
    path[:, :, local] = waypoints[rows].transpose(1, 0, 2)
    out = torch.from_numpy(path).to(_globals.tc_float)
    valid = torch.from_numpy(found[rows].copy())
    if not scene._batched:
        out, valid = out[:, 0], valid[0]
    return (out, valid) if return_valid_mask else out
