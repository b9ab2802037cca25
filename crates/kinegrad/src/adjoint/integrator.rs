//! Reverse of the semi-implicit Euler update ([`crate::integrator`]): `v' = v + h a`
//! ([`integrate_vel_vjp`]) and `q' = q (+) h v'` ([`integrate_pos_vjp`]) with the quaternion
//! exponential map ([`quat_integrate_vjp`]).

use crate::model::{JointType, Model};

/// Hamilton product of `[w, x, y, z]` quaternions.
#[inline]
fn qmul(a: &[f64; 4], b: &[f64; 4]) -> [f64; 4] {
    [
        a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
        a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
        a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
        a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
    ]
}

#[inline]
fn conj(a: &[f64; 4]) -> [f64; 4] {
    [a[0], -a[1], -a[2], -a[3]]
}

/// `exp` of a rotation vector `phi` as a unit quaternion, and the coefficients of its
/// derivative: r = (cos(t/2), s phi) with t = |phi|, s = sin(t/2)/t, c = (ds/dt)/t.
fn exp_coeffs(phi: &[f64; 3]) -> ([f64; 4], f64, f64) {
    let t2 = phi[0] * phi[0] + phi[1] * phi[1] + phi[2] * phi[2];
    let t = t2.sqrt();
    let (s, c, cw) = if t < 1e-4 {
        // series: s = 1/2 - t^2/48 + t^4/3840, c = -1/24 + t^2/960
        (
            0.5 - t2 / 48.0 + t2 * t2 / 3840.0,
            -1.0 / 24.0 + t2 / 960.0,
            1.0 - t2 / 8.0 + t2 * t2 / 384.0,
        )
    } else {
        let (sh, ch) = (0.5 * t).sin_cos();
        (sh / t, (0.5 * ch * t - sh) / (t * t * t), ch)
    };
    ([cw, s * phi[0], s * phi[1], s * phi[2]], s, c)
}

/// Reverse of `integrator.rs::quat_integrate`, `q' = normalize(normalize(q) (x) exp(h w))`,
/// for one quaternion block:
/// given `qn_bar` (dL/dq', 4), accumulate dL/dq (4) and dL/dw (3).
pub fn quat_integrate_vjp(
    q: &[f64],
    w: &[f64; 3],
    h: f64,
    qn_bar: &[f64],
    q_bar: &mut [f64],
    w_bar: &mut [f64; 3],
) {
    let nq = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    let qh = [q[0] / nq, q[1] / nq, q[2] / nq, q[3] / nq];
    let phi = [h * w[0], h * w[1], h * w[2]];
    let (r, s, c) = exp_coeffs(&phi);
    let p = qmul(&qh, &r);
    let np = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2] + p[3] * p[3]).sqrt();
    let ph = [p[0] / np, p[1] / np, p[2] / np, p[3] / np];
    // normalization of p
    let dot: f64 = (0..4).map(|k| ph[k] * qn_bar[k]).sum();
    let p_bar: [f64; 4] = std::array::from_fn(|k| (qn_bar[k] - ph[k] * dot) / np);
    // p = qh (x) r : qh_bar = p_bar (x) r*, r_bar = qh* (x) p_bar
    let qh_bar = qmul(&p_bar, &conj(&r));
    let r_bar = qmul(&conj(&qh), &p_bar);
    // normalization of q
    let dq: f64 = (0..4).map(|k| qh[k] * qh_bar[k]).sum();
    for k in 0..4 {
        q_bar[k] += (qh_bar[k] - qh[k] * dq) / nq;
    }
    // r = (cos(t/2), s phi): d cos(t/2)/dphi = -(s/2) phi ; d(s phi)/dphi = s I + c phi phi^T
    let vb = [r_bar[1], r_bar[2], r_bar[3]];
    let pv = phi[0] * vb[0] + phi[1] * vb[1] + phi[2] * vb[2];
    for k in 0..3 {
        let phi_bar = -0.5 * s * r_bar[0] * phi[k] + s * vb[k] + c * phi[k] * pv;
        w_bar[k] += h * phi_bar;
    }
}

/// Reverse of [`crate::integrator::integrate_pos`], `q' = q (+) h v'`: given dL/dq' (nq),
/// accumulate dL/dq (nq) and dL/dv' (nv).
pub fn integrate_pos_vjp(
    model: &Model,
    q: &[f64],
    v_new: &[f64],
    h: f64,
    q_new_bar: &[f64],
    q_bar: &mut [f64],
    v_new_bar: &mut [f64],
) {
    for j in 0..model.njnt {
        let a = model.jnt_qpos_adr[j];
        let d = model.jnt_dof_adr[j];
        match model.jnt_type[j] {
            JointType::Hinge | JointType::Slide => {
                q_bar[a] += q_new_bar[a];
                v_new_bar[d] += h * q_new_bar[a];
            }
            JointType::Ball => {
                let w = [v_new[d], v_new[d + 1], v_new[d + 2]];
                let mut wb = [0.0; 3];
                quat_integrate_vjp(
                    &q[a..a + 4],
                    &w,
                    h,
                    &q_new_bar[a..a + 4],
                    &mut q_bar[a..a + 4],
                    &mut wb,
                );
                for k in 0..3 {
                    v_new_bar[d + k] += wb[k];
                }
            }
            JointType::Free => {
                for k in 0..3 {
                    q_bar[a + k] += q_new_bar[a + k];
                    v_new_bar[d + k] += h * q_new_bar[a + k];
                }
                let w = [v_new[d + 3], v_new[d + 4], v_new[d + 5]];
                let mut wb = [0.0; 3];
                quat_integrate_vjp(
                    &q[a + 3..a + 7],
                    &w,
                    h,
                    &q_new_bar[a + 3..a + 7],
                    &mut q_bar[a + 3..a + 7],
                    &mut wb,
                );
                for k in 0..3 {
                    v_new_bar[d + 3 + k] += wb[k];
                }
            }
        }
    }
}

/// Reverse of [`crate::integrator::integrate_vel`], `v' = v + h a`: given dL/dv' (nv),
/// accumulate dL/dv and dL/da (nv each).
pub fn integrate_vel_vjp(h: f64, v_new_bar: &[f64], v_bar: &mut [f64], a_bar: &mut [f64]) {
    for i in 0..v_new_bar.len() {
        v_bar[i] += v_new_bar[i];
        a_bar[i] += h * v_new_bar[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integrate(q: &[f64; 4], w: &[f64; 3], h: f64) -> [f64; 4] {
        let mut out = *q;
        // same code path as the engine
        let model_free = crate::math::quat_from_wxyz(q);
        let rot = crate::math::Quat::from_scaled_axis(crate::math::Vec3::new(w[0], w[1], w[2]) * h);
        let r = crate::math::Quat::new_normalize((model_free * rot).into_inner());
        out.copy_from_slice(&[r.w, r.i, r.j, r.k]);
        out
    }

    fn check(q: [f64; 4], w: [f64; 3], h: f64) {
        let bar = [0.3, -0.7, 0.2, 0.9];
        let mut qb = [0.0; 4];
        let mut wb = [0.0; 3];
        quat_integrate_vjp(&q, &w, h, &bar, &mut qb, &mut wb);
        let f = |q: &[f64; 4], w: &[f64; 3]| -> f64 {
            integrate(q, w, h)
                .iter()
                .zip(&bar)
                .map(|(a, b)| a * b)
                .sum()
        };
        let eps = 1e-6;
        for k in 0..4 {
            let (mut qp, mut qm) = (q, q);
            qp[k] += eps;
            qm[k] -= eps;
            let fd = (f(&qp, &w) - f(&qm, &w)) / (2.0 * eps);
            assert!(
                (fd - qb[k]).abs() < 1e-8 * (1.0 + fd.abs()),
                "q[{k}]: fd {fd} vs {}",
                qb[k]
            );
        }
        for k in 0..3 {
            let (mut wp, mut wm) = (w, w);
            wp[k] += eps;
            wm[k] -= eps;
            let fd = (f(&q, &wp) - f(&q, &wm)) / (2.0 * eps);
            assert!(
                (fd - wb[k]).abs() < 1e-8 * (1.0 + fd.abs()),
                "w[{k}]: fd {fd} vs {}",
                wb[k]
            );
        }
    }

    #[test]
    fn quaternion_integration_vjp_matches_finite_differences() {
        let q = [0.8, 0.2, -0.4, 0.3];
        check(q, [0.5, -1.0, 2.0], 0.01); // ordinary
        check(q, [50.0, -80.0, 120.0], 0.02); // large angle
        check(q, [1e-4, 2e-5, -3e-5], 0.01); // small-angle series
        check(q, [0.0, 0.0, 0.0], 0.01); // exactly zero
        check([1.3, 0.1, 0.0, -0.2], [0.3, 0.1, -0.2], 0.01); // non-unit input
    }
}
