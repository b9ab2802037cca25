//! Composite rigid-body algorithm: the joint-space mass matrix M(q).

use crate::data::Data;
use crate::model::{Model, Params};

/// Fill `data.qm` (nv x nv, row-major) with M(q) + diag(armature). Needs `cdof` and `cinert`.
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
    data.qm.iter_mut().for_each(|x| *x = 0.0);
    // each dof's column: F = Ic S_i projected on every ancestor dof
    for i in 0..nv {
        let f = data.crb[model.dof_body[i]].mul_motion(&data.cdof[i]);
        let mut j = i;
        while j != usize::MAX {
            let mij = data.cdof[j].dot(&f);
            data.qm[i * nv + j] = mij;
            data.qm[j * nv + i] = mij;
            j = model.dof_parent[j];
        }
        data.qm[i * nv + i] += params.dof_armature[i];
    }
}
