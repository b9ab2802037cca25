//! Newton's method on MuJoCo's primal soft-constraint problem:
//!
//! minimize over a:  1/2 (a - a0)^T M (a - a0) + sum_i s_i(J_i a - aref_i)
//!
//! with `M a0 = f_smooth` and each row's cost `s_i` of its residual `z` ([`super::row_cost`]):
//! `1/2 D z^2` for an equality; `1/2 D min(z, 0)^2` for a limit or contact; for dry friction
//! with bound `f`, Huber's: `1/2 D z^2` while `|z| < R f`, linear with slope `+-f` beyond. The
//! cost is convex and piecewise quadratic; each Newton step solves with the Hessian
//! `H = M + J_Q^T D_Q J_Q` over the rows Q in their quadratic piece and is followed by an
//! exact line search. The factor of H at the solution is kept in
//! `data.hess` ([`super::hessian`]) for the reverse pass.
//!
//! M is the mass matrix, not the integrator's `M_h = M + h D`: as in MuJoCo, the implicit
//! damping and gains act after the solve, on the constraint forces it found
//! ([`integrated_acceleration`]); `Options::implicit_constraints` solves against `M_h`
//! instead ([`Data::solver_mass`]). Without rows the solution is `M_h^-1 f_smooth`.

use super::cone::MAX_DIM;
use super::{elliptic_at, row_slope, row_state_along, visit_rows};
use crate::data::{Data, LineRows, RowState};
use crate::dynamics::mass;
use crate::model::Model;

/// Cost (up to a constant) at `a`, using `ma = M a`, and the row residuals `jar = J a - aref`.
fn cost(data: &Data, a: &[f64], ma: &[f64], f: &[f64], jar: &[f64]) -> f64 {
    let mut c = 0.0;
    for i in 0..a.len() {
        c += a[i] * (0.5 * ma[i] - f[i]);
    }
    visit_rows(data, jar, |_, _, _, cost| c += cost);
    c
}

/// `out = M x` over the mass matrix's tree pattern ([`Data::solver_mass`]).
#[inline]
fn m_times(model: &Model, data: &Data, x: &[f64], out: &mut [f64]) {
    mass::mul_vec(model, data.solver_mass(), x, out);
}

/// Row residuals `out = J a - aref`.
fn residuals(data: &Data, a: &[f64], out: &mut Vec<f64>) {
    rows_times(data, a, out);
    for (z, aref) in out.iter_mut().zip(&data.efc_aref) {
        *z -= aref;
    }
}

/// `out = J x`, row by row over each row's non-zero dofs.
fn rows_times(data: &Data, x: &[f64], out: &mut Vec<f64>) {
    out.clear();
    out.extend((0..data.nefc).map(|r| data.efc_row_dot(r, x)));
}

/// `grad = M a - f - J^T force(jar)` (the cost's gradient), from `ma = M a`.
fn gradient(data: &Data, ma: &[f64], jar: &[f64], grad: &mut [f64]) {
    for (g, (m, f)) in grad.iter_mut().zip(ma.iter().zip(&data.qfrc_smooth)) {
        *g = m - f;
    }
    visit_rows(data, jar, |r, _, force, _| {
        if force != 0.0 {
            let (dofs, vals) = data.efc_row(r);
            for (&i, j) in dofs.iter().zip(vals) {
                grad[i] -= force * j;
            }
        }
    });
}

/// Factor `H = M + J_A^T D_A J_A` for the active set of `jar` into `data.hess`.
fn factor_hessian(model: &Model, data: &mut Data, jar: &[f64]) -> bool {
    let mut hess = std::mem::take(&mut data.hess);
    let ok = hess.factor(model, data, jar);
    data.hess = hess;
    ok
}

/// Exact minimizer along `dir` of the piecewise-quadratic cost: (step length alpha >= 0,
/// whether the step crossed a kink, i.e. changed a row's state).
/// `g0` = d^T (M a - f), `dmd` = d^T M d, `jar` = J a - aref, `jd` = J d.
fn line_search(
    data: &Data,
    g0: f64,
    dmd: f64,
    jar: &[f64],
    jd: &[f64],
    kinks: &mut Vec<(f64, usize, RowState, RowState)>,
) -> (f64, bool) {
    // slope f'(alpha) = s0 + s1 alpha on each segment between kinks
    let mut s0 = g0;
    let mut s1 = dmd;
    kinks.clear();
    for r in 0..jar.len() {
        let (z, dz) = (jar[r], jd[r]);
        let state = row_state_along(data, r, z, dz);
        let (a0, a1) = row_slope(data, r, state, z, dz);
        s0 += a0;
        s1 += a1;
        if dz == 0.0 {
            continue;
        }
        match data.efc_kind[r] {
            crate::data::RowKind::Equality(..) => {}
            crate::data::RowKind::Friction(_) | crate::data::RowKind::TendonFriction(_) => {
                // the two bounds +-R floss of the quadratic piece, crossed in the direction of dz
                let rf = data.efc_r[r] * data.efc_floss[r];
                let (t_lo, t_hi) = ((-rf - z) / dz, (rf - z) / dz);
                use RowState::*;
                if dz > 0.0 {
                    if t_lo > 0.0 {
                        kinks.push((t_lo, r, LinearNeg, Quadratic));
                    }
                    if t_hi > 0.0 {
                        kinks.push((t_hi, r, Quadratic, LinearPos));
                    }
                } else {
                    if t_hi > 0.0 {
                        kinks.push((t_hi, r, LinearPos, Quadratic));
                    }
                    if t_lo > 0.0 {
                        kinks.push((t_lo, r, Quadratic, LinearNeg));
                    }
                }
            }
            _ => {
                let t = -z / dz;
                if t > 0.0 {
                    kinks.push(if dz > 0.0 {
                        (t, r, RowState::Quadratic, RowState::Inactive)
                    } else {
                        (t, r, RowState::Inactive, RowState::Quadratic)
                    });
                }
            }
        }
    }
    kinks.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut crossed = false;
    for &(t, r, from, to) in kinks.iter() {
        if s1 > 0.0 && -s0 / s1 <= t {
            break;
        }
        // crossing row r's kink: its slope from the piece it leaves to the one it enters
        crossed = true;
        let (a0, a1) = row_slope(data, r, from, jar[r], jd[r]);
        let (b0, b1) = row_slope(data, r, to, jar[r], jd[r]);
        s0 += b0 - a0;
        s1 += b1 - a1;
    }
    if s1 > 0.0 {
        ((-s0 / s1).max(0.0), crossed)
    } else {
        (0.0, crossed)
    }
}

/// Solve for `data.qacc` given `qm`, `qm_h_ldl` (used without rows), `qfrc_smooth`,
/// `qacc_smooth` and the rows, starting from the better of `qacc_smooth` and the warm start `warm` (nv).
/// Fills `efc_active`, `efc_force`, `qfrc_constraint`, `hess`, `solver_niter`.
/// Returns false if the Hessian could not be factored.
pub fn solve(model: &Model, data: &mut Data, warm: &[f64]) -> bool {
    let nv = model.nv;
    let nefc = data.nefc;
    let mut a = std::mem::take(&mut data.scratch_nv[0]);
    let mut ma = std::mem::take(&mut data.scratch_nv[1]);
    let mut grad = std::mem::take(&mut data.scratch_nv[2]);
    let mut md = std::mem::take(&mut data.scratch_nv[3]);
    let mut jar = std::mem::take(&mut data.scratch_efc[0]);
    let mut jd = std::mem::take(&mut data.scratch_efc[1]);
    let mut bps = std::mem::take(&mut data.scratch_ls);
    let mut lines = std::mem::take(&mut data.scratch_lines);
    let mut ok = true;

    // start from the better of the warm start and the unconstrained solution
    let f = &data.qfrc_smooth;
    a.copy_from_slice(&data.qacc_smooth);
    m_times(model, data, &a, &mut ma);
    residuals(data, &a, &mut jar);
    let mut c = cost(data, &a, &ma, f, &jar);
    if nefc > 0 {
        residuals(data, warm, &mut jd);
        m_times(model, data, warm, &mut md);
        let cw = cost(data, warm, &md, f, &jd);
        if cw < c {
            a.copy_from_slice(warm);
            ma.copy_from_slice(&md);
            std::mem::swap(&mut jar, &mut jd);
            c = cw;
        }
    }

    let scale = 1.0 / (model.stat_meaninertia * (nv.max(1) as f64));
    let mut exact = false;
    let mut iter = 0;
    if nefc > 0 {
        while iter < model.opt.iterations {
            iter += 1;
            gradient(data, &ma, &jar, &mut grad);
            let gnorm = grad.iter().map(|x| x * x).sum::<f64>().sqrt();
            if scale * gnorm < model.opt.tolerance {
                break;
            }
            if !factor_hessian(model, data, &jar) {
                ok = false;
                break;
            }
            // Newton direction d = -H^-1 grad (stored in md, then M d in grad's place)
            for i in 0..nv {
                md[i] = -grad[i];
            }
            data.hess.solve(model, &mut md);
            rows_times(data, &md, &mut jd);
            // the smooth part of the slope: d^T grad less the rows' share, J^T (-force)
            let mut g0: f64 = md.iter().zip(&grad).map(|(x, y)| x * y).sum::<f64>();
            visit_rows(data, &jar, |r, _, force, _| g0 += force * jd[r]);
            m_times(model, data, &md, &mut grad);
            let dmd: f64 = md.iter().zip(&grad).map(|(x, y)| x * y).sum();
            let (alpha, crossed) = if data.efc_elliptic {
                (
                    newton_line_search(model, data, (g0, dmd), &jar, &jd, &mut lines),
                    true,
                )
            } else {
                line_search(data, g0, dmd, &jar, &jd, &mut bps)
            };
            if alpha == 0.0 {
                break;
            }
            for i in 0..nv {
                a[i] += alpha * md[i];
                ma[i] += alpha * grad[i];
            }
            for r in 0..nefc {
                jar[r] += alpha * jd[r];
            }
            if !crossed {
                // a full Newton step within one quadratic piece: `a` is the exact minimizer for an
                // unchanged active set, whose Hessian is the one just factored
                exact = true;
                break;
            }
            let cnew = cost(data, &a, &ma, &data.qfrc_smooth, &jar);
            let improvement = c - cnew;
            c = cnew;
            if scale * improvement < model.opt.tolerance {
                break;
            }
        }
        // Hessian of the final active set, kept for the reverse pass (the elliptic polish below
        // factors it itself)
        residuals(data, &a, &mut jar);
        if ok && !exact && !data.efc_elliptic && !factor_hessian(model, data, &jar) {
            ok = false;
        }
        // polish: with the active set fixed the cost is quadratic, so one full Newton step lands on
        // its minimizer to round-off. Accept it if the active set stays the same; the result then no
        // longer depends on the warm start or on where the iterations stopped, which makes a step a
        // reproducible function of its inputs and F(a) = 0 exact for the reverse pass. An
        // elliptic cone's cost is smooth but not quadratic in its middle zone: there Newton
        // steps continue while they still gain, converging quadratically to round-off.
        if ok && !exact && data.efc_elliptic {
            ok = polish_elliptic(
                model,
                data,
                &mut a,
                &mut ma,
                &mut jar,
                &mut [&mut grad, &mut md],
                (&mut jd, &mut lines),
            );
        } else if ok && !exact {
            m_times(model, data, &a, &mut ma);
            gradient(data, &ma, &jar, &mut grad);
            // md = a - H^-1 grad
            for i in 0..nv {
                grad[i] = -grad[i];
            }
            data.hess.solve(model, &mut grad);
            for i in 0..nv {
                md[i] = a[i] + grad[i];
            }
            residuals(data, &md, &mut jd);
            let [mut s0, mut s1] = std::mem::take(&mut data.scratch_states);
            states(data, &jar, &mut s0);
            states(data, &jd, &mut s1);
            let same = s0 == s1;
            data.scratch_states = [s0, s1];
            if same {
                a.copy_from_slice(&md);
                std::mem::swap(&mut jar, &mut jd);
            }
        }
    } else {
        data.hess.set_mass(&data.qm_h_ldl);
    }

    set_forces(data, &a, &jar);
    data.solver_niter = iter;
    // optimality residual M a - f - J^T force, scaled as the convergence test is
    data.solver_residual = if nefc == 0 {
        0.0
    } else {
        m_times(model, data, &a, &mut ma);
        let r2: f64 = (0..nv)
            .map(|i| (ma[i] - data.qfrc_smooth[i] - data.qfrc_constraint[i]).powi(2))
            .sum();
        scale * r2.sqrt()
    };

    data.scratch_nv[0] = a;
    data.scratch_nv[1] = ma;
    data.scratch_nv[2] = grad;
    data.scratch_nv[3] = md;
    data.scratch_efc[0] = jar;
    data.scratch_efc[1] = jd;
    data.scratch_ls = bps;
    data.scratch_lines = lines;
    ok
}

/// Every row's state at residuals `jar` into `out` ([`visit_rows`]).
fn states(data: &Data, jar: &[f64], out: &mut Vec<RowState>) {
    out.clear();
    visit_rows(data, jar, |_, s, _, _| out.push(s));
}

impl LineRows {
    fn prepare(&mut self, data: &Data, jar: &[f64], jd: &[f64]) {
        self.cones.clear();
        self.rows.clear();
        let mut r = 0;
        while r < jar.len() {
            if let Some((k, z, _)) = elliptic_at(data, jar, r) {
                let mut dz = [0.0; MAX_DIM];
                dz[..k.dim].copy_from_slice(&jd[r..r + k.dim]);
                self.cones.push(k.line(&z, &dz));
                r += k.dim;
            } else {
                self.rows.push(r);
                r += 1;
            }
        }
    }

    /// The slope and curvature at step `t` along the line.
    fn slope_at(&self, data: &Data, jar: &[f64], jd: &[f64], t: f64) -> (f64, f64) {
        let (mut s, mut c) = (0.0, 0.0);
        for l in &self.cones {
            let (a, b) = l.slope(t);
            s += a;
            c += b;
        }
        for &r in &self.rows {
            let z = jar[r] + t * jd[r];
            let state = row_state_along(data, r, z, jd[r]);
            let (a0, a1) = row_slope(data, r, state, z, jd[r]);
            s += a0;
            c += a1;
        }
        (s, c)
    }
}

/// Minimizer along `dir` of the cost when it holds elliptic cones (smooth and convex, but not
/// piecewise quadratic): safeguarded Newton steps on the slope `f'(t)`, bracketed by the last
/// points of negative and positive slope, until the slope is below `1e-10` of its value at 0
/// or `opt.ls_iterations` run out. `g0` = d^T (M a - f), `dmd` = d^T M d, `jar` = J a - aref,
/// `jd` = J d. The step length (0 if the direction does not descend).
fn newton_line_search(
    model: &Model,
    data: &Data,
    (g0, dmd): (f64, f64),
    jar: &[f64],
    jd: &[f64],
    lines: &mut LineRows,
) -> f64 {
    lines.prepare(data, jar, jd);
    let slope = |t: f64| {
        let (s, c) = lines.slope_at(data, jar, jd, t);
        (g0 + dmd * t + s, dmd + c)
    };
    let (s0, c0) = slope(0.0);
    if !(s0 < 0.0) || !(c0 > 0.0) {
        return 0.0;
    }
    let tol = 1e-10 * s0.abs();
    let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
    let (mut t, mut st, mut ct) = (0.0, s0, c0);
    for _ in 0..model.opt.ls_iterations {
        // Newton's point from the current one, kept inside the bracket
        let mut next = t - st / ct;
        if !(next > lo && next < hi) {
            next = if hi.is_finite() {
                0.5 * (lo + hi)
            } else {
                2.0 * lo.max(t) + 1.0
            };
        }
        t = next;
        (st, ct) = slope(t);
        if st.abs() <= tol {
            break;
        }
        if st < 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        if hi - lo <= 1e-15 * hi.max(1.0) {
            break;
        }
    }
    t
}

/// The elliptic cones' polish ([`solve`]): Newton steps (with [`newton_line_search`]) from
/// `a` (its `ma` = M a and `jar` = J a - aref kept current) while each still reduces the
/// gradient's norm by half, at most 20; then the Hessian of the final point into `data.hess`.
/// `tmp` and `jd` are scratch. Returns false if a Hessian could not be factored.
fn polish_elliptic(
    model: &Model,
    data: &mut Data,
    a: &mut [f64],
    ma: &mut [f64],
    jar: &mut Vec<f64>,
    tmp: &mut [&mut Vec<f64>; 2],
    (jd, lines): (&mut Vec<f64>, &mut LineRows),
) -> bool {
    let nv = model.nv;
    let [grad, dir] = tmp;
    let mut last = f64::INFINITY;
    for _ in 0..20 {
        gradient(data, ma, jar, grad);
        let gnorm = grad.iter().map(|x| x * x).sum::<f64>().sqrt();
        if !(gnorm < 0.5 * last) || gnorm == 0.0 {
            break;
        }
        last = gnorm;
        if !factor_hessian(model, data, jar) {
            return false;
        }
        for i in 0..nv {
            dir[i] = -grad[i];
        }
        data.hess.solve(model, dir);
        rows_times(data, dir, jd);
        let mut g0: f64 = dir.iter().zip(grad.iter()).map(|(x, y)| x * y).sum::<f64>();
        visit_rows(data, jar, |r, _, force, _| g0 += force * jd[r]);
        m_times(model, data, dir, grad);
        let dmd: f64 = dir.iter().zip(grad.iter()).map(|(x, y)| x * y).sum();
        let alpha = newton_line_search(model, data, (g0, dmd), jar, jd, lines);
        if alpha == 0.0 {
            break;
        }
        for i in 0..nv {
            a[i] += alpha * dir[i];
            ma[i] += alpha * grad[i];
        }
        residuals(data, a, jar);
    }
    factor_hessian(model, data, jar)
}

/// Active set, row forces, `qfrc_constraint` and `qacc` for the solution
/// `a` with row residuals `jar`.
fn set_forces(data: &mut Data, a: &[f64], jar: &[f64]) {
    let mut state = std::mem::take(&mut data.efc_state);
    let mut active = std::mem::take(&mut data.efc_active);
    let mut forces = std::mem::take(&mut data.efc_force);
    state.clear();
    active.clear();
    forces.clear();
    visit_rows(data, &jar[..data.nefc], |_, s, f, _| {
        state.push(s);
        active.push(s != RowState::Inactive);
        forces.push(f);
    });
    data.efc_state = state;
    data.efc_active = active;
    data.efc_force = forces;
    data.qfrc_constraint.iter_mut().for_each(|x| *x = 0.0);
    // J^T f a contact at a time: its rows share their dofs, so each dof gets one sum
    let mut r = 0;
    while r < data.nefc {
        let end = super::row_group_end(data, r);
        let (adr, m) = (
            data.efc_nz_adr[r],
            data.efc_nz_adr[r + 1] - data.efc_nz_adr[r],
        );
        if data.efc_active[r..end].iter().any(|&x| x) {
            for k in 0..m {
                let s: f64 = (r..end)
                    .map(|rr| data.efc_j[data.efc_nz_adr[rr] + k] * data.efc_force[rr])
                    .sum();
                data.qfrc_constraint[data.efc_nz[adr + k]] += s;
            }
        }
        r = end;
    }
    data.qacc.copy_from_slice(a);
}

/// Take `qacc` (nv), the solution a previous [`solve`] of the same problem returned with the
/// scaled residual `residual`, as the solution: fills what [`solve`] fills (no iterations),
/// with the Newton Hessian of `qacc`'s active set factored into `hess` (`M_h`'s own factor
/// without rows). Needs `qm`, `qm_h` and the rows. Returns false if the Hessian could not be
/// factored.
pub fn set_solution(model: &Model, data: &mut Data, qacc: &[f64], residual: f64) -> bool {
    let mut jar = std::mem::take(&mut data.scratch_efc[0]);
    residuals(data, qacc, &mut jar);
    let ok = factor_hessian(model, data, &jar);
    set_forces(data, qacc, &jar);
    data.solver_niter = 0;
    data.solver_residual = residual;
    data.scratch_efc[0] = jar;
    ok
}

/// The acceleration the integrator applies, into `data.qacc_int`: under MuJoCo's split
/// (`implicit_split`: rows, implicit terms), `a = M_h^-1 (f_smooth + J^T f)` for the constraint forces `f` solved against M
/// (MuJoCo's `mj_implicit` and damped `mj_Euler`), evaluated as `a = c - M_h^-1 (M_h - M) c`
/// from the solution `c = qacc` (equal where `M c = f_smooth + J^T f`; the sum of forces would
/// amplify the solve's round-off by the rows' stiffness); otherwise `qacc` itself. Needs
/// `qm`, `qm_h`, `qm_h_ldl` and a solve's outputs.
pub fn integrated_acceleration(model: &Model, data: &mut Data) {
    data.qacc_int.copy_from_slice(&data.qacc);
    // (split for the free bodies' bias derivative alone: M_h = M, nothing to add)
    if data.implicit_split && data.implicit_active {
        // t = (M_h - M) c over the tree pattern, entry by entry (diagonal gains, and the
        // tendons' in-tree entries)
        let mut t = std::mem::take(&mut data.scratch_nv[0]);
        t.iter_mut().for_each(|x| *x = 0.0);
        let c = &data.qacc;
        for i in 0..model.nv {
            for p in model.dof_m_adr[i]..model.dof_m_adr[i + 1] {
                let k = data.qm_h[p] - data.qm[p];
                if k != 0.0 {
                    let j = model.dof_m_col[p];
                    t[i] += k * c[j];
                    if j != i {
                        t[j] += k * c[i];
                    }
                }
            }
        }
        mass::solve(model, &data.qm_h_ldl, &mut t);
        for (a, ti) in data.qacc_int.iter_mut().zip(&t) {
            *a -= ti;
        }
        data.scratch_nv[0] = t;
    }
}
