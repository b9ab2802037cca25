//! Tendon lengths and Jacobians at the current positions (MuJoCo's `mj_tendon`).
//!
//! A **fixed** tendon is a linear combination of hinge and slide joint positions: its Jacobian
//! is constant (`Tendon::jac`) and its length `sum c q`. A **spatial** tendon is a path through
//! sites (MuJoCo's `<spatial>` with `<site>`, `<pulley>` and wrapping `<geom>`s,
//! [`crate::model::tendon_path`]): each branch (a pulley starts one) is the polyline through its
//! points (the sites, and a wrapped segment's two wrap points, which move with the geom's body,
//! with the arc between them), its length divided by the branch's divisor, and
//!
//!   L = sum_branches 1/div (sum_i |p_{i+1} - p_i| + sum_wraps arc),
//!   J = sum_branches 1/div sum_i u_i^T (J_p(b_{i+1}, p_{i+1}) - J_p(b_i, p_i)),
//!
//! with `u_i` the unit vector along piece i and `J_p(b, p)` the point Jacobian of point p on
//! body b. Pieces between points of one body contribute to the length only. The Jacobian's
//! sparsity is fixed (the dofs of the sites' and wrap geoms' bodies' paths to the root,
//! `Tendon::jac`'s dofs); [`tendons`] writes the values into `Data::ten_jac` and the lengths
//! into `Data::ten_length`. The reverse is `adjoint/tendon.rs`.

use crate::data::Data;
use crate::math::{Mat3, Vec3};
use crate::model::tendon_path::spatial;
use crate::model::Model;

/// Every tendon's length and Jacobian at the positions `q` into `data.ten_length` and
/// `data.ten_jac` (fixed tendons' Jacobians are the constant ones `Data::new` copied). Needs
/// the kinematics and `cdof`.
pub fn tendons(model: &Model, q: &[f64], data: &mut Data) {
    for (t, ten) in model.tendons.iter().enumerate() {
        if ten.spatial.is_empty() {
            data.ten_length[t] = ten.length(q);
            continue;
        }
        let mut jac = std::mem::take(&mut data.ten_jac[t]);
        let (xpos, xmat) = (&data.xpos, &data.xmat);
        // (a wrap geom's pose from its body's: a recomputed substep updates only the poses of
        // the geoms in contact)
        data.ten_length[t] = spatial(
            model,
            ten,
            (
                |s| xpos[model.site_body[s]] + xmat[model.site_body[s]] * model.site_pos[s],
                |g| wrap_geom_pose(model, xpos, xmat, g),
            ),
            &data.cdof,
            &data.body_dof_last,
            &mut jac,
        );
        data.ten_jac[t] = jac;
    }
}

/// The world pose of geom `g` from its body's pose (`xpos`, `xmat`).
pub fn wrap_geom_pose(model: &Model, xpos: &[Vec3], xmat: &[Mat3], g: usize) -> (Vec3, Mat3) {
    let b = model.geom_body[g];
    (
        xpos[b] + xmat[b] * model.geom_pos[g],
        xmat[b] * model.geom_quat[g].to_rotation_matrix().matrix(),
    )
}
