//! MuJoCo's elliptic friction cone for a contact of `dim` rows (3: normal and two tangents;
//! 4: and the torsion about the normal; 6: and the rolling about the tangents), as its primal
//! cost (`mj_constraintUpdate`) defines it.
//!
//! With the rows' residuals `z = J a - aref`, the contact's friction `f_j` of each row past
//! the normal (sliding, sliding, torsional, rolling, rolling), the regularized cone's
//! `mu_r = f_1 sqrt(D0 / D1)` (`D1 = impratio D0`: MuJoCo's `R1 = R0 / impratio`) and the
//! scaled residuals `N = mu_r z0`, `U_j = f_j z_j`, `T = |U|`, the contact is
//! - **satisfied** (top zone, no force) when `N >= mu_r T`, i.e. `z0 >= T`;
//! - **quadratic** (bottom zone, every row `1/2 D_j z_j^2`) when `mu_r N + T <= 0`;
//! - in the **cone** (middle zone) otherwise, with cost `1/2 Dm (N - mu_r T)^2`,
//!   `Dm = D0 / (mu_r^2 (1 + mu_r^2))`.
//!
//! In the middle zone the forces are `phi0 = -D0 (z0 - T) / (1 + mu_r^2)` and
//! `phi_j = -phi0 f_j U_j / T`, and the Hessian in z (`-dphi/dz`) is MuJoCo's `con->H`:
//! in the scaled coordinates `Dm [1, -mu_r u^T; -mu_r u, mu_r N/T uu^T + (mu_r^2 - mu_r N/T) I]`
//! (`u = U/T`), scaled by `diag(mu_r, f)` on both sides; positive semi-definite. The rows'
//! `D_j` past the first tangent are `D1 f_j^2 / f_1^2` (MuJoCo's `R_j f_j^2 = R_1 f_1^2`), so
//! that the bottom zone's cost `1/2 D0 z0^2 + 1/2 D1 T^2 / f_1^2` meets
//! the middle zone's: the cost is continuous, once differentiable and convex.
//!
//! The types ([`Elliptic`], [`ConeLine`]) are declared in `data.rs`, where `Data` keeps them
//! with its scratch; their methods are here.

use crate::data::{Data, RowState};

pub use crate::data::{ConeLine, Elliptic, CONE_MAX_DIM as MAX_DIM};

/// Residuals (or any per-row values) of one elliptic contact, `dim` of them used.
pub type Rows = [f64; MAX_DIM];

impl Elliptic {
    /// The cone of contact `contact`, whose rows start at `r0` (a [`crate::data::RowKind::ContactElliptic`]
    /// row 0).
    #[inline]
    pub fn of(data: &Data, r0: usize, contact: usize) -> Self {
        let con = &data.contacts[contact];
        let dim = con.condim;
        let mut d = [0.0; MAX_DIM];
        d[..dim].copy_from_slice(&data.efc_d[r0..r0 + dim]);
        let f = con.friction_rows();
        Self {
            dim,
            f,
            mu_r: f[0] * (d[0] / d[1]).sqrt(),
            d,
        }
    }

    /// `(N, T)`: the scaled normal and friction residuals.
    #[inline]
    fn scaled(&self, z: &Rows) -> (f64, f64) {
        let t2: f64 = (1..self.dim).map(|j| (self.f[j - 1] * z[j]).powi(2)).sum();
        (self.mu_r * z[0], t2.sqrt())
    }

    /// The zone at residuals `z`: [`RowState::Inactive`] (top), [`RowState::Quadratic`]
    /// (bottom) or [`RowState::Cone`] (middle), with MuJoCo's tie rules.
    #[inline]
    pub fn state(&self, z: &Rows) -> RowState {
        let (n, t) = self.scaled(z);
        if n >= self.mu_r * t || (t <= 0.0 && n >= 0.0) {
            RowState::Inactive
        } else if self.mu_r * n + t <= 0.0 || (t <= 0.0 && n < 0.0) {
            RowState::Quadratic
        } else {
            RowState::Cone
        }
    }

    /// The rows' forces at `z` in `state` (`-dcost/dz`).
    #[inline]
    pub fn force(&self, z: &Rows, state: RowState) -> Rows {
        let mut out = [0.0; MAX_DIM];
        match state {
            RowState::Quadratic => {
                for j in 0..self.dim {
                    out[j] = -self.d[j] * z[j];
                }
            }
            RowState::Cone => {
                let (_, t) = self.scaled(z);
                let phi0 = -self.d[0] * (z[0] - t) / (1.0 + self.mu_r * self.mu_r);
                out[0] = phi0;
                for j in 1..self.dim {
                    let fj = self.f[j - 1];
                    out[j] = -phi0 * fj * fj * z[j] / t;
                }
            }
            _ => {}
        }
        out
    }

    /// The contact's cost at `z` in `state`.
    #[inline]
    pub fn cost(&self, z: &Rows, state: RowState) -> f64 {
        match state {
            RowState::Quadratic => (0..self.dim).map(|j| 0.5 * self.d[j] * z[j] * z[j]).sum(),
            RowState::Cone => {
                // 1/2 Dm (N - mu_r T)^2 = 1/2 D0 (z0 - T)^2 / (1 + mu_r^2)
                let (_, t) = self.scaled(z);
                0.5 * self.d[0] * (z[0] - t).powi(2) / (1.0 + self.mu_r * self.mu_r)
            }
            _ => 0.0,
        }
    }

    /// The cost's Hessian in z at `z` in `state` (`-dforce/dz`, symmetric, row-major, `dim`
    /// by `dim` used).
    #[inline]
    pub fn hessian(&self, z: &Rows, state: RowState) -> [Rows; MAX_DIM] {
        let mut h = [[0.0; MAX_DIM]; MAX_DIM];
        match state {
            RowState::Quadratic => {
                for j in 0..self.dim {
                    h[j][j] = self.d[j];
                }
            }
            RowState::Cone => {
                let (n, t) = self.scaled(z);
                let mu = self.mu_r;
                let dm = self.d[0] / (mu * mu * (1.0 + mu * mu));
                // the scale of each row: mu_r for the normal, f_j for the others
                let s = |j: usize| if j == 0 { mu } else { self.f[j - 1] };
                let u = |j: usize| self.f[j - 1] * z[j];
                h[0][0] = 1.0;
                for j in 1..self.dim {
                    h[0][j] = -mu / t * u(j);
                    h[j][0] = h[0][j];
                    for k in 1..self.dim {
                        h[j][k] = mu * n / (t * t * t) * u(j) * u(k);
                    }
                    h[j][j] += mu * mu - mu * n / t;
                }
                for j in 0..self.dim {
                    for k in 0..self.dim {
                        h[j][k] *= dm * s(j) * s(k);
                    }
                }
            }
            _ => {}
        }
        h
    }

    /// The derivatives of the forces at `z` in `state` with respect to the contact's sliding,
    /// torsional and rolling friction and to `D0` (with the `D_j` and `mu_r / f_1` held:
    /// their dependences go through the rows' `D`, see [`crate::adjoint::solve::row_seed`]):
    /// `([dforce/dslide, dforce/dspin, dforce/droll], dforce/dD0)`. Zero outside the middle
    /// zone (the bottom zone's forces `-D_j z_j` depend on their `D` alone).
    pub fn force_derivatives(&self, z: &Rows, state: RowState) -> ([Rows; 3], Rows) {
        let mut dp = [[0.0; MAX_DIM]; 3];
        if state != RowState::Cone {
            return (dp, [0.0; MAX_DIM]);
        }
        let (_, t) = self.scaled(z);
        let g = 1.0 + self.mu_r * self.mu_r;
        let d0 = self.d[0];
        let phi0 = -d0 * (z[0] - t) / g;
        // which friction parameter each row's f_j is: 0 slide, 1 spin, 2 roll
        let param = |j: usize| [0, 0, 1, 2, 2][j - 1];
        for (p, out) in dp.iter_mut().enumerate() {
            // dT/dp = sum over the rows of p of f_j z_j^2 / T
            let dt: f64 = (1..self.dim)
                .filter(|&j| param(j) == p)
                .map(|j| self.f[j - 1] * z[j] * z[j] / t)
                .sum();
            // g = 1 + (rho f_1)^2: dg/dslide = 2 mu_r^2 / f_1
            let dg = if p == 0 {
                2.0 * self.mu_r * self.mu_r / self.f[0]
            } else {
                0.0
            };
            let dphi0 = d0 * (dt * g + (z[0] - t) * dg) / (g * g);
            out[0] = dphi0;
            for j in 1..self.dim {
                let fj = self.f[j - 1];
                let dfj = if param(j) == p { 1.0 } else { 0.0 };
                // phi_j = -phi0 fj^2 z_j / T
                let w = fj * fj * z[j] / t;
                let dw = 2.0 * fj * dfj * z[j] / t - fj * fj * z[j] * dt / (t * t);
                out[j] = -(dphi0 * w + phi0 * dw);
            }
        }
        let f = self.force(z, state);
        (dp, f.map(|x| x / d0))
    }
}

impl Elliptic {
    /// The cost along `z + t dz` ([`ConeLine`]).
    pub fn line(&self, z: &Rows, dz: &Rows) -> ConeLine {
        let mut l = ConeLine {
            n0: self.mu_r * z[0],
            n1: self.mu_r * dz[0],
            mu: self.mu_r,
            dm: self.d[0] / (self.mu_r * self.mu_r * (1.0 + self.mu_r * self.mu_r)),
            ..Default::default()
        };
        for j in 0..self.dim {
            l.b0 += self.d[j] * z[j] * dz[j];
            l.b1 += self.d[j] * dz[j] * dz[j];
            if j > 0 {
                let (u, v) = (self.f[j - 1] * z[j], self.f[j - 1] * dz[j]);
                l.tt += u * u;
                l.tu += u * v;
                l.uu += v * v;
            }
        }
        l
    }
}

impl ConeLine {
    /// The cost's slope and curvature at step `t` (the zone at `t` as [`Elliptic::state`]
    /// decides it, with its tie rules).
    #[inline]
    pub fn slope(&self, t: f64) -> (f64, f64) {
        let n = self.n0 + t * self.n1;
        let t2 = (self.tt + t * (2.0 * self.tu + t * self.uu)).max(0.0);
        let tn = t2.sqrt();
        let mu = self.mu;
        if n >= mu * tn || (tn <= 0.0 && n >= 0.0) {
            (0.0, 0.0)
        } else if mu * n + tn <= 0.0 || (tn <= 0.0 && n < 0.0) {
            (self.b0 + t * self.b1, self.b1)
        } else {
            // 1/2 Dm (N - mu T)^2
            let d1 = (self.tu + t * self.uu) / tn;
            let d2 = (self.uu - d1 * d1) / tn;
            let g = n - mu * tn;
            let h = self.n1 - mu * d1;
            (self.dm * g * h, self.dm * (h * h - g * mu * d2))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cone of `dim` rows with impratio 3, D0 = 2.
    fn cone(dim: usize) -> Elliptic {
        let f = [0.7, 0.7, 0.05, 0.02, 0.02];
        let mut d = [0.0; MAX_DIM];
        d[0] = 2.0;
        d[1] = 6.0;
        for j in 2..dim {
            d[j] = d[1] * f[j - 1] * f[j - 1] / (f[0] * f[0]);
        }
        Elliptic {
            dim,
            f,
            mu_r: 0.7 / 3.0f64.sqrt(),
            d,
        }
    }

    fn rows(x: &[f64]) -> Rows {
        let mut z = [0.0; MAX_DIM];
        z[..x.len()].copy_from_slice(x);
        z
    }

    /// The forces are minus the cost's gradient and the Hessian minus the forces' Jacobian, by
    /// central differences, in each zone, for 3, 4 and 6 rows; the zones are where MuJoCo puts
    /// them; the friction and D0 derivatives of the forces too.
    #[test]
    fn forces_and_hessian_are_the_costs_derivatives() {
        let cases: [(&[f64], RowState); 6] = [
            (&[-0.3, 0.1, -0.2, 2.0, -3.0, 1.0], RowState::Cone),
            (&[-0.3, 0.01, -0.02, 0.1, 0.1, -0.2], RowState::Quadratic),
            (&[0.3, 0.1, -0.2, 0.5, 0.2, 0.1], RowState::Inactive),
            (&[0.1, 0.3, 0.2, -1.0, 4.0, 2.0], RowState::Cone),
            (&[-0.2, 0.0, 0.0, 3.0, 0.0, 0.0], RowState::Cone),
            (&[-0.2, 0.0, 0.0, 0.0, 0.0, 0.0], RowState::Quadratic),
        ];
        let eps = 1e-6;
        for dim in [3, 4, 6] {
            let k = cone(dim);
            for (x, want) in cases {
                if dim == 3 && x[1] == 0.0 && x[3] != 0.0 {
                    continue; // torsion alone: no friction rows of its own at dim 3
                }
                let z = rows(&x[..dim]);
                let s = k.state(&z);
                assert_eq!(s, want, "zone at {z:?} (dim {dim})");
                let f = k.force(&z, s);
                let h = k.hessian(&z, s);
                for j in 0..dim {
                    let (mut zp, mut zm) = (z, z);
                    zp[j] += eps;
                    zm[j] -= eps;
                    let dc = (k.cost(&zp, k.state(&zp)) - k.cost(&zm, k.state(&zm))) / (2.0 * eps);
                    assert!(
                        (dc + f[j]).abs() < 1e-7,
                        "force {j} at {z:?}: {} vs {}",
                        -dc,
                        f[j]
                    );
                    let (fp, fm) = (k.force(&zp, k.state(&zp)), k.force(&zm, k.state(&zm)));
                    for i in 0..dim {
                        let df = (fp[i] - fm[i]) / (2.0 * eps);
                        let tol = 1e-5 * h[i][j].abs().max(1.0);
                        assert!(
                            (df + h[i][j]).abs() < tol,
                            "H[{i}][{j}] at {z:?} (dim {dim})"
                        );
                    }
                }
                if s != RowState::Cone {
                    continue;
                }
                let (dp, dd0) = k.force_derivatives(&z, s);
                // a cone whose frictions move by e along parameter p, or D0 (D_j with it)
                let moved = |p: usize, e: f64| {
                    let mut r = k;
                    if p < 3 {
                        for j in 1..dim {
                            if [0, 0, 1, 2, 2][j - 1] == p {
                                r.f[j - 1] += e;
                            }
                        }
                        if p == 0 {
                            r.mu_r = k.mu_r * r.f[0] / k.f[0];
                        }
                    } else {
                        for j in 0..dim {
                            r.d[j] = k.d[j] * (k.d[0] + e) / k.d[0];
                        }
                    }
                    r.force(&z, s)
                };
                for p in 0..4 {
                    let (fp, fm) = (moved(p, eps), moved(p, -eps));
                    let an = if p < 3 { dp[p] } else { dd0 };
                    for i in 0..dim {
                        let fd = (fp[i] - fm[i]) / (2.0 * eps);
                        assert!(
                            (fd - an[i]).abs() < 1e-6 * fd.abs().max(1.0),
                            "d force {i} / d param {p} (dim {dim}): {fd} vs {}",
                            an[i]
                        );
                    }
                }
            }
        }
    }

    /// A contact's reduced line ([`ConeLine`]) gives the slope and curvature the full force and
    /// Hessian give, in every zone.
    #[test]
    fn the_line_slope_is_the_costs_derivative_along_the_line() {
        for dim in [3, 4, 6] {
            let k = cone(dim);
            // the friction residuals pass through 0 at t = 0.5 while the normal's is -0.25
            let z = rows(&[-0.5, 0.2, -0.1, 0.5, -0.3, 0.2][..dim]);
            let dz = rows(&[0.5, -0.4, 0.2, -1.0, 0.6, -0.4][..dim]);
            let line = k.line(&z, &dz);
            let mut zones = std::collections::HashSet::new();
            for i in 0..60 {
                let t = -1.0 + i as f64 * 0.05;
                let zt = [0, 1, 2, 3, 4, 5].map(|j| z[j] + t * dz[j]);
                let s = k.state(&zt);
                zones.insert(s);
                let (f, h) = (k.force(&zt, s), k.hessian(&zt, s));
                let want_s: f64 = -(0..dim).map(|j| f[j] * dz[j]).sum::<f64>();
                let want_c: f64 = (0..dim)
                    .map(|a| (0..dim).map(|b| dz[a] * h[a][b] * dz[b]).sum::<f64>())
                    .sum();
                let (gs, gc) = line.slope(t);
                assert!(
                    (gs - want_s).abs() < 1e-9 * want_s.abs().max(1.0),
                    "slope at {t} (dim {dim})"
                );
                assert!(
                    (gc - want_c).abs() < 1e-9 * want_c.abs().max(1.0),
                    "curvature at {t} (dim {dim})"
                );
            }
            assert_eq!(
                zones.len(),
                3,
                "dim {dim}: the line crosses every zone: {zones:?}"
            );
        }
    }

    /// The cost is continuous across the zone boundaries (top-middle and middle-bottom).
    #[test]
    fn cost_is_continuous_across_zones() {
        for dim in [3, 4, 6] {
            let k = cone(dim);
            let mut e = rows(&[0.0, 0.6, -0.8, 0.3, 0.1, -0.2][..dim]);
            // scaled so that T = 1 along e
            let (_, t) = k.scaled(&e);
            e.iter_mut().for_each(|x| *x /= t);
            let along = |z0: f64, w: f64| {
                let mut z = e.map(|x| x * w);
                z[0] = z0;
                z
            };
            // top-middle: z0 = T
            let w = 0.25;
            let (lo, hi) = (along(w - 1e-9, w), along(w + 1e-9, w));
            assert_eq!(k.state(&lo), RowState::Cone);
            assert_eq!(k.state(&hi), RowState::Inactive);
            assert!((k.cost(&lo, RowState::Cone) - k.cost(&hi, RowState::Inactive)).abs() < 1e-12);
            // middle-bottom: T = -mu_r^2 z0
            let z0 = -0.5;
            let wb = -k.mu_r * k.mu_r * z0;
            let (lo, hi) = (along(z0, wb - 1e-9), along(z0, wb + 1e-9));
            assert_eq!(k.state(&lo), RowState::Quadratic);
            assert_eq!(k.state(&hi), RowState::Cone);
            let gap = k.cost(&lo, RowState::Quadratic) - k.cost(&hi, RowState::Cone);
            assert!(gap.abs() < 1e-8, "dim {dim}: {gap}");
        }
    }
}
