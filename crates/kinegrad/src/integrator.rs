//! Semi-implicit Euler: v' = v + h a, q' = q (+) h v', with the quaternion
//! exponential map for ball and free joints (angular velocity in the local frame).

use crate::math::{quat_from_wxyz, Quat, Vec3};
use crate::model::{JointType, Model};

/// `q <- q (+) h v` on the configuration manifold (quaternions stay unit length).
pub fn integrate_pos(model: &Model, q: &mut [f64], v: &[f64], h: f64) {
    for j in 0..model.njnt {
        let a = model.jnt_qpos_adr[j];
        let d = model.jnt_dof_adr[j];
        match model.jnt_type[j] {
            JointType::Hinge | JointType::Slide => q[a] += h * v[d],
            JointType::Ball => {
                quat_integrate(&mut q[a..a + 4], &Vec3::new(v[d], v[d + 1], v[d + 2]), h)
            }
            JointType::Free => {
                for k in 0..3 {
                    q[a + k] += h * v[d + k];
                }
                quat_integrate(
                    &mut q[a + 3..a + 7],
                    &Vec3::new(v[d + 3], v[d + 4], v[d + 5]),
                    h,
                );
            }
        }
    }
}

/// `quat <- normalize(quat * exp(h w / 2))`, w in the local frame.
fn quat_integrate(quat: &mut [f64], w: &Vec3, h: f64) {
    let q = quat_from_wxyz(quat);
    let rot = Quat::from_scaled_axis(w * h);
    let r = Quat::new_normalize((q * rot).into_inner());
    quat.copy_from_slice(&[r.w, r.i, r.j, r.k]);
}

/// `v <- v + h a`.
pub fn integrate_vel(v: &mut [f64], a: &[f64], h: f64) {
    for (vi, ai) in v.iter_mut().zip(a) {
        *vi += h * ai;
    }
}
