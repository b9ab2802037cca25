//! Reverse of [`crate::state::normalize_quaternions`]: the functional steps, their reverse
//! passes and the tapes normalize the quaternion blocks of a given `qpos` before using it (as
//! setting a state does), so an adjoint taken at the normalized blocks is pulled back through
//! that normalization to the `qpos` the caller gave.

use crate::model::Model;

/// Pull `g`, the adjoint at the normalized `qpos`, back to the raw `q` (nq) in place: on every
/// ball and free joint's quaternion block, x_bar = (g - qn (qn . g)) / |x| with qn = x / |x|
/// (the Jacobian of x / |x| is symmetric). Blocks of zero norm, which the forward pass replaces
/// by the identity, keep `g` (their derivative does not exist; the state checks refuse them).
pub fn normalize_quaternions_vjp(model: &Model, q: &[f64], g: &mut [f64]) {
    for j in 0..model.njnt {
        let Some(o) = model.jnt_type[j].quat_offset() else {
            continue;
        };
        let a = model.jnt_qpos_adr[j] + o;
        let x = &q[a..a + 4];
        let n = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !(n > 0.0) {
            continue;
        }
        let dot: f64 = (0..4).map(|k| x[k] / n * g[a + k]).sum();
        for k in 0..4 {
            g[a + k] = (g[a + k] - x[k] / n * dot) / n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::{Mat3, Pose};
    use crate::model::builder::{BaseMode, BodySpec, EntitySpec, JointSpec};
    use crate::model::{JointType, ModelBuilder};
    use crate::state::normalize_quaternions;

    #[test]
    fn quaternion_normalization_vjp_matches_central_differences() {
        // a free body carrying a ball-jointed child: two quaternion blocks
        let body = |name: &str, parent: Option<usize>, joint: JointSpec| {
            let mut b = BodySpec::new(name, parent);
            b.joints.push(joint);
            b.mass = 1.0;
            b.inertia = Mat3::from_diagonal_element(0.01);
            b
        };
        let spec = EntitySpec {
            name: "e".into(),
            bodies: vec![
                body("root", None, JointSpec::new("free", JointType::Free)),
                body("child", Some(0), JointSpec::new("ball", JointType::Ball)),
            ],
            ..Default::default()
        };
        let mut b = ModelBuilder::new();
        b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
        let m = b.build().unwrap();
        assert_eq!(m.nq, 11);
        // unnormalized quaternions, positions untouched by the normalization
        let q: Vec<f64> = vec![0.1, -0.2, 0.3, 1.3, 0.2, -0.4, 0.5, 0.7, -0.9, 0.3, 0.2];
        let w: Vec<f64> = (0..m.nq).map(|i| 0.3 + 0.17 * i as f64).collect();
        let f = |x: &[f64]| {
            let mut y = x.to_vec();
            normalize_quaternions(&m, &mut y);
            y.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>()
        };
        let mut g = w.clone();
        normalize_quaternions_vjp(&m, &q, &mut g);
        let h = 1e-6;
        for i in 0..m.nq {
            let (mut qp, mut qm) = (q.clone(), q.clone());
            qp[i] += h;
            qm[i] -= h;
            let fd = (f(&qp) - f(&qm)) / (2.0 * h);
            assert!(
                (g[i] - fd).abs() < 1e-8,
                "entry {i}: vjp {} vs fd {fd}",
                g[i]
            );
        }
    }
}
