//! A spatial tendon's geometry, from given site positions and dof subspaces (no `Data`: the
//! compile stage reads it at qpos0 and [`crate::tendon::tendons`] at every step).

use super::{Model, Tendon};
use crate::math::{Motion, Vec3};

/// The length of spatial tendon `ten` and its Jacobian's values into `jac` (its entries'
/// dofs, `Tendon::jac`'s, are kept), with the sites' world positions `site_pos` and the dof
/// subspaces `cdof`.
pub fn spatial(
    model: &Model,
    ten: &Tendon,
    site_pos: impl Fn(usize) -> Vec3,
    cdof: &[Motion],
    body_dof_last: &[usize],
    jac: &mut [(usize, f64)],
) -> f64 {
    jac.iter_mut().for_each(|x| x.1 = 0.0);
    let mut length = 0.0;
    for branch in &ten.spatial {
        let w = 1.0 / branch.divisor;
        for pair in branch.sites.windows(2) {
            let (s0, s1) = (pair[0], pair[1]);
            let (p0, p1) = (site_pos(s0), site_pos(s1));
            let d = p1 - p0;
            let len = d.norm();
            length += w * len;
            let (b0, b1) = (model.site_body[s0], model.site_body[s1]);
            if b0 == b1 || !(len > 0.0) {
                continue; // one body: the segment's length is constant
            }
            let u = d / len;
            for (b, p, sign) in [(b1, p1, w), (b0, p0, -w)] {
                let mut dof = body_dof_last[b];
                while dof != usize::MAX {
                    let k = jac
                        .binary_search_by_key(&dof, |x| x.0)
                        .expect("a site body's dofs are in the tendon's Jacobian");
                    jac[k].1 += sign * u.dot(&cdof[dof].point_velocity(&p));
                    dof = model.dof_parent[dof];
                }
            }
        }
    }
    length
}

/// The length of spatial tendon `ten` with the sites' world positions `site_pos`.
pub fn spatial_length(ten: &Tendon, site_pos: impl Fn(usize) -> Vec3) -> f64 {
    ten.spatial
        .iter()
        .map(|b| {
            let len: f64 = b
                .sites
                .windows(2)
                .map(|p| (site_pos(p[1]) - site_pos(p[0])).norm())
                .sum();
            len / b.divisor
        })
        .sum()
}

/// The dofs a spatial tendon's Jacobian can touch: those of its sites' bodies' paths to the
/// root, ascending, each with coefficient 0 (the sparsity of `Tendon::jac`).
pub fn spatial_dofs(model: &Model, ten: &Tendon, body_dof_last: &[usize]) -> Vec<(usize, f64)> {
    let mut dofs = Vec::new();
    for branch in &ten.spatial {
        for &s in &branch.sites {
            let mut d = body_dof_last[model.site_body[s]];
            while d != usize::MAX {
                dofs.push(d);
                d = model.dof_parent[d];
            }
        }
    }
    dofs.sort_unstable();
    dofs.dedup();
    dofs.into_iter().map(|d| (d, 0.0)).collect()
}
