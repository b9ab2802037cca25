//! Recursive Newton-Euler: inverse dynamics ID(q, v, a) = M(q) a + c(q, v).

use crate::data::Data;
use crate::math::{Motion, Vec3};
use crate::model::{Model, Params};

/// Write `M a + c(q, v)` (without armature) into `out` (nv); with `qacc = None` this is the
/// bias force c(q, v) (gravity, Coriolis, centrifugal). Needs `cdof`, `cinert`, `cvel`, `cdof_dot` computed at (q, v).
pub fn rnea(
    model: &Model,
    params: &Params,
    data: &mut Data,
    v: &[f64],
    qacc: Option<&[f64]>,
    out: &mut [f64],
) {
    // gravity enters as an upward acceleration of the world
    data.cacc[0] = Motion::new(Vec3::zeros(), -params.gravity);
    // forward pass over bodies: accelerations and body forces
    for b in 1..model.nbody {
        let mut acc = data.cacc[model.body_parent[b]];
        for d in model.body_dof_adr[b]..model.body_dof_adr[b] + model.body_dof_num[b] {
            acc += data.cdof_dot[d] * v[d];
            if let Some(a) = qacc {
                acc += data.cdof[d] * a[d];
            }
        }
        data.cacc[b] = acc;
        let inert = &data.cinert[b];
        let vel = &data.cvel[b];
        data.cfrc[b] = inert.mul_motion(&acc) + vel.cross_force(&inert.mul_motion(vel));
    }
    // backward pass over bodies: accumulate forces into parents
    for b in (1..model.nbody).rev() {
        let p = model.body_parent[b];
        if p != 0 {
            let f = data.cfrc[b];
            data.cfrc[p] += f;
        }
    }
    // project onto dofs
    for d in 0..model.nv {
        out[d] = data.cdof[d].dot(&data.cfrc[model.dof_body[d]]);
    }
}
