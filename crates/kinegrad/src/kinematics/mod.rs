//! Forward kinematics: body and geom poses, dof motion subspaces, body inertias
//! and velocities, point Jacobians. Spatial quantities are in world coordinates at
//! the world origin (see [`crate::math`]).

use crate::data::Data;
use crate::math::{Inertia, Mat3, Motion, Quat, Vec3};
use crate::model::{Model, Params};

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
        let (mut xpos, mut xquat) = match model.body_mocap.get(b) {
            // a mocap body (a child of the world): its pose is the parameters
            Some(&k) if k != usize::MAX => {
                let [w, x, y, z] = params.mocap_quat[k];
                (
                    params.mocap_pos[k],
                    Quat::new_normalize(nalgebra::Quaternion::new(w, x, y, z)),
                )
            }
            _ => (
                data.xpos[p] + data.xmat[p] * model.body_pos[b],
                data.xquat[p] * model.body_quat[b],
            ),
        };
        for j in model.body_jnt_adr[b]..model.body_jnt_adr[b] + model.body_jnt_num[b] {
            let a = model.jnt_qpos_adr[j];
            let qj = a..a + model.jnt_type[j].nq();
            let (anchor, axis) = model.jnt_type[j].transform(
                &q[qj.clone()],
                &model.qpos0[qj],
                &model.jnt_pos[j],
                &model.jnt_axis[j],
                &mut xpos,
                &mut xquat,
            );
            data.xanchor[j] = anchor;
            data.xaxis[j] = axis;
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
        let kind = model.jnt_type[j];
        kind.motion_subspace(
            &data.xanchor[j],
            &data.xaxis[j],
            &data.xmat[model.jnt_body[j]],
            &mut data.cdof[d..d + kind.nv()],
        );
    }
}

/// Body velocities `cvel` and subspace derivatives `cdof_dot` from `v` (nv).
pub fn com_vel(model: &Model, v: &[f64], data: &mut Data) {
    for b in 1..model.nbody {
        let mut cvel = data.cvel[model.body_parent[b]];
        for j in model.body_jnt_adr[b]..model.body_jnt_adr[b] + model.body_jnt_num[b] {
            let d = model.jnt_dof_adr[j];
            let kind = model.jnt_type[j];
            // dofs fixed in the world (a free joint's translations): no derivative
            let rot0 = d + kind.world_fixed_dofs();
            for k in d..rot0 {
                data.cdof_dot[k] = Motion::zero();
                cvel += data.cdof[k] * v[k];
            }
            // all other dofs of one joint use the velocity before them
            let end = d + kind.nv();
            for k in rot0..end {
                data.cdof_dot[k] = cvel.cross_motion(&data.cdof[k]);
            }
            for k in rot0..end {
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
