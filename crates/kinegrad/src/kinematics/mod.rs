//! Forward kinematics: body and geom poses, dof motion subspaces, body inertias
//! and velocities, point Jacobians. Spatial quantities are in world coordinates at
//! the world origin (see [`crate::math`]).

use crate::data::Data;
use crate::math::{quat_from_wxyz, Inertia, Mat3, Motion, Quat, Vec3};
use crate::model::{JointType, Model, Params};

/// Rotation by `angle` about the unit `axis`.
#[inline]
fn axis_angle(axis: &Vec3, angle: f64) -> Quat {
    let (s, c) = (0.5 * angle).sin_cos();
    Quat::new_unchecked(nalgebra::Quaternion::new(
        c,
        axis.x * s,
        axis.y * s,
        axis.z * s,
    ))
}

/// Body and geom poses, joint anchors and axes from `q` (nq).
/// Fills `xpos, xquat, xmat, xipos, xanchor, xaxis, geom_xpos, geom_xmat`.
pub fn forward_kinematics(model: &Model, params: &Params, q: &[f64], data: &mut Data) {
    body_kinematics(model, params, q, data);
    // geoms follow their bodies (as `geom_pose`, written out: the call costs ~5 % here)
    for g in 0..model.ngeom {
        let b = model.geom_body[g];
        data.geom_xpos[g] = data.xpos[b] + data.xmat[b] * model.geom_pos[g];
        data.geom_xmat[g] = data.xmat[b] * model.geom_quat[g].to_rotation_matrix().matrix();
    }
}

/// The body part of [`forward_kinematics`]: fills `xpos, xquat, xmat, xipos, xanchor, xaxis`
/// and leaves the geom poses as they were.
pub fn body_kinematics(model: &Model, params: &Params, q: &[f64], data: &mut Data) {
    // forward pass over bodies: compose parent pose, body offset and joints
    for b in 1..model.nbody {
        let p = model.body_parent[b];
        let mut xpos = data.xpos[p] + data.xmat[p] * model.body_pos[b];
        let mut xquat = data.xquat[p] * model.body_quat[b];
        for j in model.body_jnt_adr[b]..model.body_jnt_adr[b] + model.body_jnt_num[b] {
            let a = model.jnt_qpos_adr[j];
            match model.jnt_type[j] {
                JointType::Free => {
                    xpos = Vec3::new(q[a], q[a + 1], q[a + 2]);
                    xquat = quat_from_wxyz(&q[a + 3..a + 7]);
                    data.xanchor[j] = xpos;
                    data.xaxis[j] = model.jnt_axis[j];
                }
                JointType::Ball => {
                    let anchor = xquat * model.jnt_pos[j] + xpos;
                    xquat *= quat_from_wxyz(&q[a..a + 4]);
                    xpos = anchor - xquat * model.jnt_pos[j];
                    data.xanchor[j] = anchor;
                    data.xaxis[j] = xquat * model.jnt_axis[j];
                }
                JointType::Hinge => {
                    let anchor = xquat * model.jnt_pos[j] + xpos;
                    data.xaxis[j] = xquat * model.jnt_axis[j];
                    xquat *= axis_angle(&model.jnt_axis[j], q[a] - model.qpos0[a]);
                    xpos = anchor - xquat * model.jnt_pos[j];
                    data.xanchor[j] = anchor;
                }
                JointType::Slide => {
                    data.xanchor[j] = xquat * model.jnt_pos[j] + xpos;
                    let axis = xquat * model.jnt_axis[j];
                    data.xaxis[j] = axis;
                    xpos += axis * (q[a] - model.qpos0[a]);
                }
            }
        }
        let xquat = Quat::new_normalize(xquat.into_inner());
        let xmat = *xquat.to_rotation_matrix().matrix();
        data.xpos[b] = xpos;
        data.xquat[b] = xquat;
        data.xmat[b] = xmat;
        data.xipos[b] = xpos + xmat * params.body_ipos[b];
    }
}

/// World pose of geom `g` (`geom_xpos`, `geom_xmat`) from its body's pose.
#[inline]
pub fn geom_pose(model: &Model, data: &mut Data, g: usize) {
    let b = model.geom_body[g];
    data.geom_xpos[g] = data.xpos[b] + data.xmat[b] * model.geom_pos[g];
    data.geom_xmat[g] = data.xmat[b] * model.geom_quat[g].to_rotation_matrix().matrix();
}

/// Dof motion subspaces `cdof` and body spatial inertias `cinert` (needs [`forward_kinematics`]).
pub fn com_pos(model: &Model, params: &Params, data: &mut Data) {
    for b in 1..model.nbody {
        let r = data.xmat[b];
        let i_world: Mat3 = r * params.body_inertia[b] * r.transpose();
        data.cinert[b] = Inertia::from_com(params.body_mass[b], &data.xipos[b], &i_world);
    }
    for j in 0..model.njnt {
        let d = model.jnt_dof_adr[j];
        let b = model.jnt_body[j];
        let anchor = data.xanchor[j];
        match model.jnt_type[j] {
            JointType::Free => {
                for k in 0..3 {
                    data.cdof[d + k] = Motion::new(Vec3::zeros(), Vec3::ith(k, 1.0));
                    let axis: Vec3 = data.xmat[b].column(k).into();
                    data.cdof[d + 3 + k] = Motion::new(axis, anchor.cross(&axis));
                }
            }
            JointType::Ball => {
                for k in 0..3 {
                    let axis: Vec3 = data.xmat[b].column(k).into();
                    data.cdof[d + k] = Motion::new(axis, anchor.cross(&axis));
                }
            }
            JointType::Hinge => {
                let axis = data.xaxis[j];
                data.cdof[d] = Motion::new(axis, anchor.cross(&axis));
            }
            JointType::Slide => data.cdof[d] = Motion::new(Vec3::zeros(), data.xaxis[j]),
        }
    }
}

/// Body velocities `cvel` and subspace derivatives `cdof_dot` from `v` (nv).
pub fn com_vel(model: &Model, v: &[f64], data: &mut Data) {
    for b in 1..model.nbody {
        let mut cvel = data.cvel[model.body_parent[b]];
        for j in model.body_jnt_adr[b]..model.body_jnt_adr[b] + model.body_jnt_num[b] {
            let d = model.jnt_dof_adr[j];
            let mut rot0 = d;
            if model.jnt_type[j] == JointType::Free {
                // translations are fixed in the world: no derivative
                for k in 0..3 {
                    data.cdof_dot[d + k] = Motion::zero();
                    cvel += data.cdof[d + k] * v[d + k];
                }
                rot0 = d + 3;
            }
            let n = match model.jnt_type[j] {
                JointType::Free | JointType::Ball => 3,
                _ => 1,
            };
            // all rotational dofs of one joint use the velocity before the joint
            for k in rot0..rot0 + n {
                data.cdof_dot[k] = cvel.cross_motion(&data.cdof[k]);
            }
            for k in rot0..rot0 + n {
                cvel += data.cdof[k] * v[k];
            }
        }
        data.cvel[b] = cvel;
    }
}

/// Translational Jacobian of the world point `p` attached to `body`, added with weight `w`
/// into `jac` (nv, one Vec3 per dof): `jac[d] += w * (dv_p / dv_d)`.
pub fn add_point_jacobian(
    model: &Model,
    body_dof_last: &[usize],
    cdof: &[Motion],
    body: usize,
    p: &Vec3,
    w: f64,
    jac: &mut [Vec3],
) {
    let mut d = body_dof_last[body];
    while d != usize::MAX {
        let s = &cdof[d];
        jac[d] += (s.lin + s.ang.cross(p)) * w;
        d = model.dof_parent[d];
    }
}

/// Linear velocity of the world point `p` attached to `body`, and the body's angular velocity.
pub fn point_velocity(data: &Data, body: usize, p: &Vec3) -> (Vec3, Vec3) {
    let c = &data.cvel[body];
    (c.point_velocity(p), c.ang)
}
