//! MuJoCo's `implicitfast` treatment of standalone free bodies (`mjd_freeMhat`): a body whose
//! only joint is free and which has nothing moving or weighing below it integrates its six
//! dofs with the derivative of its bias force (the gyroscopic torque `w x I w` and the
//! centripetal force of an offset centre of mass) taken implicitly too:
//! `(M_h + h B) a = M_h a_0` over its block, `B = d qfrc_bias / d qvel` (non-zero in the
//! rotational columns only), where `a_0` is the acceleration the rest of the step integrates.
//! The block is decoupled from every other dof, so it is solved on its own (6x6 LU).
//!
//! With `R` the body's rotation, `s = R ipos` its centre of mass from its origin, `w = R w_l` its
//! world angular velocity, `Iw = R I R^T` its inertia about the centre of mass and
//! `K = [w x s]_x + [w]_x [s]_x`, the rotational columns of `B` are `[-m K R; R^T C R]` with
//! `C = -m [s]_x K + [w]_x Iw - [Iw w]_x` (MuJoCo's `freeBias_vel_blocks`).
//!
//! One generic routine ([`bias_times`]) gives `B a` on `f64` for the step and on dual numbers
//! for its reverse (`adjoint/step.rs`), through the body's quaternion, angular velocity, mass,
//! centre of mass and inertia.

use crate::math::dual::{cross, mat_t_vec, mat_vec, Real};
use crate::model::Model;

/// The block of `data.qm_h` over the 6 dofs from `adr` (symmetric, full).
fn mh_block(model: &Model, data: &crate::data::Data, adr: usize) -> nalgebra::Matrix6<f64> {
    let mut a = nalgebra::Matrix6::<f64>::zeros();
    for i in adr..adr + 6 {
        for p in model.dof_m_adr[i]..model.dof_m_adr[i + 1] {
            let c = model.dof_m_col[p];
            if c >= adr {
                a[(i - adr, c - adr)] = data.qm_h[p];
                a[(c - adr, i - adr)] = data.qm_h[p];
            }
        }
    }
    a
}

/// The 6x6 block `A = M_h + h B` of standalone free body `(b, j)` at `(q, v)` (row-major),
/// from `data.qm_h`.
pub fn block_matrix(
    model: &Model,
    params: &crate::model::Params,
    data: &crate::data::Data,
    (b, j): (usize, usize),
    q: &[f64],
    v: &[f64],
    h: f64,
) -> nalgebra::Matrix6<f64> {
    let adr = model.jnt_dof_adr[j];
    let mut a = mh_block(model, data, adr);
    add_bias(model, params, (b, j), q, v, h, &mut a);
    a
}

/// `a += h B` for standalone free body `(b, j)` at `(q, v)`.
fn add_bias(
    model: &Model,
    params: &crate::model::Params,
    (b, j): (usize, usize),
    q: &[f64],
    v: &[f64],
    h: f64,
    a: &mut nalgebra::Matrix6<f64>,
) {
    let adr = model.jnt_dof_adr[j];
    let qa = model.jnt_qpos_adr[j];
    let quat = [q[qa + 3], q[qa + 4], q[qa + 5], q[qa + 6]];
    let wl = [v[adr + 3], v[adr + 4], v[adr + 5]];
    let ipos = params.body_ipos[b];
    let ii = params.body_inertia[b];
    let inertia = [0, 1, 2].map(|r| [0, 1, 2].map(|c| ii[(r, c)]));
    let prep = Prep::new(
        &quat,
        &wl,
        params.body_mass[b],
        &[ipos.x, ipos.y, ipos.z],
        &inertia,
    );
    for k in 0..3 {
        let mut ar = [0.0; 3];
        ar[k] = 1.0;
        let (f, t) = prep.times(&ar);
        for r in 0..3 {
            a[(r, 3 + k)] += h * f[r];
            a[(3 + r, 3 + k)] += h * t[r];
        }
    }
}

/// Whether the step integrates standalone free bodies with their bias derivative: under
/// `implicitfast` with the rows solved against M (MuJoCo's split).
#[inline]
pub fn applies(model: &Model) -> bool {
    model.opt.integrator == crate::model::Integrator::ImplicitFast
        && !model.opt.implicit_constraints
        && !model.free_gyro.is_empty()
}

/// `qacc_int` of each standalone free body re-solved with its bias derivative:
/// `(M_h + h B) a = M_h a_0` over its block (see the module documentation).
pub fn integrate(
    model: &Model,
    params: &crate::model::Params,
    data: &mut crate::data::Data,
    q: &[f64],
    v: &[f64],
    h: f64,
) {
    if !applies(model) {
        return;
    }
    for &(b, j) in &model.free_gyro {
        let adr = model.jnt_dof_adr[j];
        // f = M_h a_0 over the block, then A = M_h + h B
        let mut a = mh_block(model, data, adr);
        let a0 = nalgebra::Vector6::from_column_slice(&data.qacc_int[adr..adr + 6]);
        let f = a * a0;
        add_bias(model, params, (b, j), q, v, h, &mut a);
        if let Some(x) = a.lu().solve(&f) {
            if x.iter().all(|y| y.is_finite()) {
                data.qacc_int[adr..adr + 6].copy_from_slice(x.as_slice());
            }
        }
    }
}

/// The rotation matrix of the quaternion `q = [w, x, y, z]` (normalized here, as the step's
/// kinematics normalize it).
pub fn rotation<T: Real>(q: &[T; 4]) -> [[T; 3]; 3] {
    let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    let [w, x, y, z] = q.map(|c| c / n);
    let two = T::c(2.0);
    let one = T::c(1.0);
    [
        [
            one - two * (y * y + z * z),
            two * (x * y - w * z),
            two * (x * z + w * y),
        ],
        [
            two * (x * y + w * z),
            one - two * (x * x + z * z),
            two * (y * z - w * x),
        ],
        [
            two * (x * z - w * y),
            two * (y * z + w * x),
            one - two * (x * x + y * y),
        ],
    ]
}

/// The body's quantities `B` is made of (see the module documentation), in world axes.
struct Prep<T> {
    r: [[T; 3]; 3],
    s: [T; 3],
    w: [T; 3],
    iw: [[T; 3]; 3],
    iww: [T; 3],
    ws: [T; 3],
    m: T,
}

impl<T: Real> Prep<T> {
    fn new(quat: &[T; 4], wl: &[T; 3], m: T, ipos: &[T; 3], inertia: &[[T; 3]; 3]) -> Self {
        let r = rotation(quat);
        let s = mat_vec(&r, ipos);
        let w = mat_vec(&r, wl);
        // Iw = R I R^T
        let ri: [[T; 3]; 3] = [0, 1, 2].map(|i| {
            [0, 1, 2].map(|j| {
                r[i][0] * inertia[0][j] + r[i][1] * inertia[1][j] + r[i][2] * inertia[2][j]
            })
        });
        let iw: [[T; 3]; 3] = [0, 1, 2].map(|i| {
            [0, 1, 2].map(|j| ri[i][0] * r[j][0] + ri[i][1] * r[j][1] + ri[i][2] * r[j][2])
        });
        let iww = mat_vec(&iw, &w);
        let ws = cross(&w, &s);
        Self {
            r,
            s,
            w,
            iw,
            iww,
            ws,
            m,
        }
    }

    /// `B a` for the rotational part `ar` of `a`: (force rows, torque rows).
    fn times(&self, ar: &[T; 3]) -> ([T; 3], [T; 3]) {
        let (m, s, w) = (self.m, &self.s, &self.w);
        // u = R ar (world axes); K u = (w x s) x u + w x (s x u)
        let u = mat_vec(&self.r, ar);
        let ku = {
            let a = cross(&self.ws, &u);
            let b = cross(w, &cross(s, &u));
            [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
        };
        // C u = -m s x (K u) + w x (Iw u) - (Iw w) x u
        let cu = {
            let a = cross(s, &ku);
            let b = cross(w, &mat_vec(&self.iw, &u));
            let c = cross(&self.iww, &u);
            [0, 1, 2].map(|k| -(m * a[k]) + b[k] - c[k])
        };
        // force rows -m K R ar (world axes, as the free joint's linear dofs), torque rows
        // R^T C R ar
        (ku.map(|x| -(m * x)), mat_t_vec(&self.r, &cu))
    }
}

/// `B a` for the body: (the force rows, the torque rows), from its quaternion `quat`, its local
/// angular velocity `wl`, mass `m`, centre of mass `ipos` and inertia `inertia` (body frame,
/// about the centre of mass), and the rotational part `ar` of `a` (B's linear columns vanish).
pub fn bias_times<T: Real>(
    quat: &[T; 4],
    wl: &[T; 3],
    m: T,
    ipos: &[T; 3],
    inertia: &[[T; 3]; 3],
    ar: &[T; 3],
) -> ([T; 3], [T; 3]) {
    Prep::new(quat, wl, m, ipos, inertia).times(ar)
}
