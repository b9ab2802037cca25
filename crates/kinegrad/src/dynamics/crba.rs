//! Composite rigid-body algorithm: the joint-space mass matrix M(q).

use crate::data::Data;
use crate::model::{Model, Params};

/// Fill `data.qm` (M's lower tree pattern, see [`crate::dynamics::mass`]) with
/// M(q) + diag(armature). Needs `cdof` and `cinert`.
pub fn crba(model: &Model, params: &Params, data: &mut Data) {
    let nv = model.nv;
    // backward pass over bodies: composite inertias
    data.crb.copy_from_slice(&data.cinert);
    for b in (1..model.nbody).rev() {
        let p = model.body_parent[b];
        if p != 0 {
            let c = data.crb[b];
            data.crb[p] += c;
        }
    }
    // each dof's row: F = Ic S_i projected on the dof and its ancestors (the row's pattern,
    // walked from the diagonal down)
    for i in 0..nv {
        let f = data.crb[model.dof_body[i]].mul_motion(&data.cdof[i]);
        let mut p = model.dof_m_adr[i + 1] - 1;
        let mut j = i;
        while j != usize::MAX {
            data.qm[p] = data.cdof[j].dot(&f);
            p = p.wrapping_sub(1);
            j = model.dof_parent[j];
        }
        data.qm[model.dof_m_adr[i + 1] - 1] += params.dof_armature[i];
    }
}
