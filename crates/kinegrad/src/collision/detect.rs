//! Collision driver: candidate pairs (masks, welds, parent-child, self-collision, exclusions,
//! bounding spheres), narrowphase, and contact parameters. (Narrowphase pending merge.)

use crate::data::Data;
use crate::model::{Model, Params};

/// Fill `data.contacts`.
pub fn detect(model: &Model, params: &Params, data: &mut Data) {
    let _ = (model, params);
    data.contacts.clear();
}
