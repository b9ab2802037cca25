//! MuJoCo's elliptic friction cone for a contact of three rows (normal, two tangents), as
//! its primal cost (`mj_constraintUpdate`) defines it.
//!
//! With the rows' residuals `z = J a - aref` (normal `z0`, tangents `zt`), sliding friction
//! `mu`, the regularized cone's `mu_r = mu sqrt(D0 / D1)` (`D1 = impratio D0`: MuJoCo's
//! `R1 = R0 / impratio`) and the scaled residuals `N = mu_r z0`, `T = mu |zt|`, the contact is
//! - **satisfied** (top zone, no force) when `N >= mu_r T`, i.e. `z0 >= mu |zt|`;
//! - **quadratic** (bottom zone, every row `1/2 D_j z_j^2`) when `mu_r N + T <= 0`;
//! - in the **cone** (middle zone) otherwise, with cost `1/2 Dm (N - mu_r T)^2`,
//!   `Dm = D0 / (mu_r^2 (1 + mu_r^2))`.
//!
//! In the middle zone, with `w = |zt|`, `e = zt / w`, `g = 1 + mu_r^2` and
//! `c = (z0 - mu w) / g` (negative there), the forces are `phi0 = -D0 c`, `phit = mu D0 c e`,
//! and the cost's Hessian in z (`-dphi/dz`) is
//! `D0/g [1, -mu e^T; -mu e, mu^2 e e^T] - mu D0 c / w (I - e e^T)` on the tangents, which is
//! positive semi-definite; MuJoCo's `con->H` is the same matrix in its scaled coordinates.
//! The cost is continuous and once differentiable across the zones, and convex.

use crate::data::{Data, RowState};

/// The parameters of one elliptic contact's cost: sliding friction `mu`, the rows' inverse
/// regularizers `d` (normal, tangent, tangent) and the regularized cone's `mu_r`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Elliptic {
    /// Sliding friction of the contact.
    pub mu: f64,
    /// Friction of the regularized cone, `mu sqrt(D0 / D1)` (MuJoCo's `con->mu`).
    pub mu_r: f64,
    /// `D` of the three rows.
    pub d: [f64; 3],
}

impl Elliptic {
    /// The cone of the contact whose rows start at `r0` (a [`crate::data::RowKind::ContactElliptic`]
    /// row 0).
    #[inline]
    pub fn of(data: &Data, r0: usize, contact: usize) -> Self {
        let mu = data.contacts[contact].friction;
        let d = [data.efc_d[r0], data.efc_d[r0 + 1], data.efc_d[r0 + 2]];
        Self {
            mu,
            mu_r: mu * (d[0] / d[1]).sqrt(),
            d,
        }
    }

    /// The zone at residuals `z`: [`RowState::Inactive`] (top), [`RowState::Quadratic`]
    /// (bottom) or [`RowState::Cone`] (middle), with MuJoCo's tie rules.
    #[inline]
    pub fn state(&self, z: &[f64; 3]) -> RowState {
        let n = z[0] * self.mu_r;
        let t = self.mu * (z[1] * z[1] + z[2] * z[2]).sqrt();
        if n >= self.mu_r * t || (t <= 0.0 && n >= 0.0) {
            RowState::Inactive
        } else if self.mu_r * n + t <= 0.0 || (t <= 0.0 && n < 0.0) {
            RowState::Quadratic
        } else {
            RowState::Cone
        }
    }

    /// `(c, w, e)` of the middle zone (see the module's notes).
    #[inline]
    fn middle(&self, z: &[f64; 3]) -> (f64, f64, [f64; 2]) {
        let w = (z[1] * z[1] + z[2] * z[2]).sqrt();
        let g = 1.0 + self.mu_r * self.mu_r;
        ((z[0] - self.mu * w) / g, w, [z[1] / w, z[2] / w])
    }

    /// The rows' forces at `z` in `state` (`-dcost/dz`).
    #[inline]
    pub fn force(&self, z: &[f64; 3], state: RowState) -> [f64; 3] {
        match state {
            RowState::Quadratic => [0, 1, 2].map(|j| -self.d[j] * z[j]),
            RowState::Cone => {
                let (c, _, e) = self.middle(z);
                let phi0 = -self.d[0] * c;
                [phi0, -self.mu * phi0 * e[0], -self.mu * phi0 * e[1]]
            }
            _ => [0.0; 3],
        }
    }

    /// The contact's cost at `z` in `state`.
    #[inline]
    pub fn cost(&self, z: &[f64; 3], state: RowState) -> f64 {
        match state {
            RowState::Quadratic => (0..3).map(|j| 0.5 * self.d[j] * z[j] * z[j]).sum(),
            RowState::Cone => {
                // 1/2 Dm (N - mu_r T)^2 = 1/2 D0 (z0 - mu w)^2 / g
                let (c, _, _) = self.middle(z);
                0.5 * self.d[0] * c * c * (1.0 + self.mu_r * self.mu_r)
            }
            _ => 0.0,
        }
    }

    /// The cost's Hessian in z at `z` in `state` (`-dforce/dz`, symmetric, row-major).
    #[inline]
    pub fn hessian(&self, z: &[f64; 3], state: RowState) -> [[f64; 3]; 3] {
        let mut h = [[0.0; 3]; 3];
        match state {
            RowState::Quadratic => {
                for j in 0..3 {
                    h[j][j] = self.d[j];
                }
            }
            RowState::Cone => {
                let (c, w, e) = self.middle(z);
                let g = 1.0 + self.mu_r * self.mu_r;
                let (d0, mu) = (self.d[0], self.mu);
                let a = d0 / g;
                let b = -mu * d0 * c / w;
                let v = [1.0, -mu * e[0], -mu * e[1]];
                for i in 0..3 {
                    for j in 0..3 {
                        h[i][j] = a * v[i] * v[j];
                    }
                }
                for i in 0..2 {
                    for j in 0..2 {
                        let p = if i == j { 1.0 } else { 0.0 } - e[i] * e[j];
                        h[1 + i][1 + j] += b * p;
                    }
                }
            }
            _ => {}
        }
        h
    }

    /// The derivatives of the forces at `z` in `state` with respect to the sliding friction
    /// `mu` and to `D0` (with `D1 = D2 = D0 D1/D0` and `mu_r / mu` held: the impratio is a
    /// model constant): `(dforce/dmu, dforce/dD0)`. In the bottom zone the rows' own `D`
    /// carry the dependence (see [`crate::adjoint::solve::row_seed`]): both are zero there.
    pub fn force_derivatives(&self, z: &[f64; 3], state: RowState) -> ([f64; 3], [f64; 3]) {
        if state != RowState::Cone {
            return ([0.0; 3], [0.0; 3]);
        }
        let (c, w, e) = self.middle(z);
        let rho2 = (self.mu_r / self.mu).powi(2);
        let g = 1.0 + self.mu_r * self.mu_r;
        let (d0, mu) = (self.d[0], self.mu);
        // phi0 = -D0 (z0 - mu w) / g, g = 1 + rho^2 mu^2
        let phi0 = -d0 * c;
        let dphi0 = d0 * (w * g + 2.0 * rho2 * mu * (z[0] - mu * w)) / (g * g);
        // phit = -mu phi0 e
        let dphit = -(phi0 + mu * dphi0);
        let f = self.force(z, state);
        (
            [dphi0, dphit * e[0], dphit * e[1]],
            [f[0] / d0, f[1] / d0, f[2] / d0],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cone() -> Elliptic {
        Elliptic {
            mu: 0.7,
            mu_r: 0.7 / 3.0f64.sqrt(),
            d: [2.0, 6.0, 6.0],
        }
    }

    /// The forces are minus the cost's gradient and the Hessian minus the forces' Jacobian, by
    /// central differences, in each zone; the zones are where MuJoCo puts them.
    #[test]
    fn forces_and_hessian_are_the_costs_derivatives() {
        let k = cone();
        let cases = [
            ([-0.3, 0.1, -0.2], RowState::Cone),
            ([-0.3, 0.01, -0.02], RowState::Quadratic),
            ([0.3, 0.1, -0.2], RowState::Inactive),
            ([0.1, 0.3, 0.2], RowState::Cone),
        ];
        let eps = 1e-6;
        for (z, want) in cases {
            let s = k.state(&z);
            assert_eq!(s, want, "zone at {z:?}");
            let f = k.force(&z, s);
            let h = k.hessian(&z, s);
            for j in 0..3 {
                let mut zp = z;
                let mut zm = z;
                zp[j] += eps;
                zm[j] -= eps;
                let dc = (k.cost(&zp, k.state(&zp)) - k.cost(&zm, k.state(&zm))) / (2.0 * eps);
                assert!(
                    (dc + f[j]).abs() < 1e-8,
                    "force {j} at {z:?}: {} vs {}",
                    -dc,
                    f[j]
                );
                let (fp, fm) = (k.force(&zp, k.state(&zp)), k.force(&zm, k.state(&zm)));
                for i in 0..3 {
                    let df = (fp[i] - fm[i]) / (2.0 * eps);
                    assert!((df + h[i][j]).abs() < 1e-6, "H[{i}][{j}] at {z:?}");
                }
            }
            // the friction and D0 derivatives of the forces
            let (dmu, dd0) = k.force_derivatives(&z, s);
            let with = |mu: f64, d0: f64| {
                let r = Elliptic {
                    mu,
                    mu_r: mu * k.mu_r / k.mu,
                    d: [d0, d0 * k.d[1] / k.d[0], d0 * k.d[2] / k.d[0]],
                };
                r.force(&z, s)
            };
            let (p, m) = (with(k.mu + eps, k.d[0]), with(k.mu - eps, k.d[0]));
            let (pd, md) = (with(k.mu, k.d[0] + eps), with(k.mu, k.d[0] - eps));
            for i in 0..3 {
                if s == RowState::Cone {
                    assert!(((p[i] - m[i]) / (2.0 * eps) - dmu[i]).abs() < 1e-7);
                    assert!(((pd[i] - md[i]) / (2.0 * eps) - dd0[i]).abs() < 1e-7);
                }
            }
        }
    }

    /// The cost is continuous across the zone boundaries (top-middle and middle-bottom).
    #[test]
    fn cost_is_continuous_across_zones() {
        let k = cone();
        let e = [0.6, -0.8];
        // top-middle: z0 = mu w
        let w = 0.25;
        let z = |z0: f64| [z0, w * e[0], w * e[1]];
        let b = k.mu * w;
        let (lo, hi) = (z(b - 1e-9), z(b + 1e-9));
        assert_eq!(k.state(&lo), RowState::Cone);
        assert_eq!(k.state(&hi), RowState::Inactive);
        assert!((k.cost(&lo, RowState::Cone) - k.cost(&hi, RowState::Inactive)).abs() < 1e-12);
        // middle-bottom: w = -rho^2 mu z0
        let rho2 = (k.mu_r / k.mu).powi(2);
        let z0 = -0.5;
        let wb = -rho2 * k.mu * z0;
        let zz = |w: f64| [z0, w * e[0], w * e[1]];
        let (lo, hi) = (zz(wb - 1e-9), zz(wb + 1e-9));
        assert_eq!(k.state(&lo), RowState::Quadratic);
        assert_eq!(k.state(&hi), RowState::Cone);
        assert!((k.cost(&lo, RowState::Quadratic) - k.cost(&hi, RowState::Cone)).abs() < 1e-8);
    }
}
