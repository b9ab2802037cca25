//! The per-env physical parameters ([`Params`]) as one table: each field's name, its shape in
//! one env, its values as a flat row-major vector, and the checks a new value must pass. The
//! Python binding's `get_param` / `set_param` and its parameter gradients read this table, so a
//! new parameter is one entry here.

use super::{Model, Params};
use crate::error::{Error, Result};
use crate::math::{Mat3, Vec3};

/// One field of [`Params`].
#[derive(Debug)]
pub struct ParamField {
    /// Its name (`body_mass`, `dof_kp`, ...), as the Python API spells it.
    pub name: &'static str,
    shape: fn(&Model) -> Vec<usize>,
    read: fn(&Params, &mut Vec<f64>),
    write: fn(&mut Params, &[f64]),
}

impl ParamField {
    /// Its shape in one env (`[nbody, 3]` for `body_ipos`, ...).
    pub fn shape(&self, model: &Model) -> Vec<usize> {
        (self.shape)(model)
    }

    /// Its number of values in one env.
    pub fn size(&self, model: &Model) -> usize {
        self.shape(model).iter().product()
    }

    /// Append its values in `params`, row-major (matrices row by row), to `out`.
    pub fn read(&self, params: &Params, out: &mut Vec<f64>) {
        (self.read)(params, out)
    }

    /// Check `x` (one env's values, row-major, of [`ParamField::size`] entries) and write it
    /// into `params`; an invalid value is an error naming the field and leaves `params` as it was.
    pub fn write(&self, params: &mut Params, x: &[f64]) -> Result<()> {
        self.check(x)?;
        (self.write)(params, x);
        Ok(())
    }

    /// Write `x` into `params` without the checks of [`ParamField::write`]: for directions and
    /// adjoints, whose entries may have any sign.
    pub fn write_unchecked(&self, params: &mut Params, x: &[f64]) {
        (self.write)(params, x)
    }

    /// The checks of [`ParamField::write`]: finite values (a force range may be infinite);
    /// masses, gains, damping, armature, stiffness, friction and frictionloss at least 0; inertias symmetric
    /// and positive semi-definite; force ranges with lower <= upper. Entry 0 of body
    /// parameters is the world body's, which the engine never reads.
    pub fn check(&self, x: &[f64]) -> Result<()> {
        let bad = |what: String| Err(Error::invalid(self.name, what));
        if self.name == "dof_force_range" || self.name == "tendon_force_range" {
            if x.iter().any(|v| v.is_nan()) {
                return bad("contains NaN".into());
            }
            if let Some(d) = x.chunks(2).position(|r| !(r[0] <= r[1])) {
                return bad(format!("dof {d}: lower bound above upper bound"));
            }
            return Ok(());
        }
        if x.iter().any(|v| !v.is_finite()) {
            return bad("contains a non-finite value".into());
        }
        match self.name {
            "body_mass" if x[1..].iter().any(|&v| v < 0.0) => bad("must be >= 0".into()),
            "dof_damping"
            | "dof_armature"
            | "dof_kp"
            | "dof_kv"
            | "dof_stiffness"
            | "geom_friction"
            | "dof_frictionloss"
            | "tendon_stiffness"
            | "tendon_damping"
            | "tendon_frictionloss"
            | "tendon_kp"
            | "tendon_kv"
            | "fluid_density"
            | "fluid_viscosity"
                if x.iter().any(|&v| v < 0.0) =>
            {
                bad("must be >= 0".into())
            }
            "mocap_quat" => match x
                .chunks(4)
                .position(|q| q.iter().map(|v| v * v).sum::<f64>() < 1e-20)
            {
                Some(k) => bad(format!("mocap body {k}: quaternion is zero")),
                None => Ok(()),
            },
            "eq_solref" => {
                // the standard format (both > 0) or the direct one (both <= 0), never mixed
                match x.chunks(2).position(|r| (r[0] > 0.0) != (r[1] > 0.0)) {
                    Some(e) => bad(format!(
                        "equality {e}: [{}, {}] mixes the standard (both > 0) and direct (both <= 0) formats",
                        x[2 * e],
                        x[2 * e + 1]
                    )),
                    None => Ok(()),
                }
            }
            "body_inertia" => {
                // the loaders' rule (`inertia::principal_moments`)
                for (b, c) in x.chunks(9).enumerate().skip(1) {
                    if let Err(e) = super::inertia::principal_moments(&Mat3::from_row_slice(c)) {
                        return bad(format!("body {b}: {e}"));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Every field of [`Params`], in the order the Python API lists them.
pub static PARAM_FIELDS: [ParamField; 27] = [
    ParamField {
        name: "gravity",
        shape: |_| vec![3],
        read: |p, out| out.extend(p.gravity.iter()),
        write: |p, x| p.gravity = Vec3::from_column_slice(x),
    },
    ParamField {
        name: "body_mass",
        shape: |m| vec![m.nbody],
        read: |p, out| out.extend(&p.body_mass),
        write: |p, x| p.body_mass.copy_from_slice(x),
    },
    ParamField {
        name: "body_ipos",
        shape: |m| vec![m.nbody, 3],
        read: |p, out| p.body_ipos.iter().for_each(|v| out.extend(v.iter())),
        write: |p, x| {
            x.chunks(3)
                .zip(&mut p.body_ipos)
                .for_each(|(c, v)| *v = Vec3::from_column_slice(c))
        },
    },
    ParamField {
        name: "body_inertia",
        shape: |m| vec![m.nbody, 3, 3],
        read: |p, out| {
            p.body_inertia
                .iter()
                .for_each(|i| out.extend(i.transpose().iter()))
        },
        write: |p, x| {
            x.chunks(9)
                .zip(&mut p.body_inertia)
                .for_each(|(c, i)| *i = Mat3::from_row_slice(c))
        },
    },
    ParamField {
        name: "dof_damping",
        shape: |m| vec![m.nv],
        read: |p, out| out.extend(&p.dof_damping),
        write: |p, x| p.dof_damping.copy_from_slice(x),
    },
    ParamField {
        name: "dof_armature",
        shape: |m| vec![m.nv],
        read: |p, out| out.extend(&p.dof_armature),
        write: |p, x| p.dof_armature.copy_from_slice(x),
    },
    ParamField {
        name: "dof_kp",
        shape: |m| vec![m.nv],
        read: |p, out| out.extend(&p.dof_kp),
        write: |p, x| p.dof_kp.copy_from_slice(x),
    },
    ParamField {
        name: "dof_kv",
        shape: |m| vec![m.nv],
        read: |p, out| out.extend(&p.dof_kv),
        write: |p, x| p.dof_kv.copy_from_slice(x),
    },
    ParamField {
        name: "dof_stiffness",
        shape: |m| vec![m.nv],
        read: |p, out| out.extend(&p.dof_stiffness),
        write: |p, x| p.dof_stiffness.copy_from_slice(x),
    },
    ParamField {
        name: "dof_force_range",
        shape: |m| vec![m.nv, 2],
        read: |p, out| p.dof_force_range.iter().for_each(|r| out.extend(r)),
        write: |p, x| {
            x.chunks(2)
                .zip(&mut p.dof_force_range)
                .for_each(|(c, r)| *r = [c[0], c[1]])
        },
    },
    ParamField {
        name: "geom_friction",
        shape: |m| vec![m.ngeom, 3],
        read: |p, out| p.geom_friction.iter().for_each(|f| out.extend(f)),
        write: |p, x| {
            x.chunks(3)
                .zip(&mut p.geom_friction)
                .for_each(|(c, f)| *f = [c[0], c[1], c[2]])
        },
    },
    ParamField {
        name: "dof_frictionloss",
        shape: |m| vec![m.nv],
        read: |p, out| out.extend(&p.dof_frictionloss),
        write: |p, x| p.dof_frictionloss.copy_from_slice(x),
    },
    ParamField {
        name: "tendon_stiffness",
        shape: |m| vec![m.tendons.len()],
        read: |p, out| out.extend(&p.tendon_stiffness),
        write: |p, x| p.tendon_stiffness.copy_from_slice(x),
    },
    ParamField {
        name: "tendon_damping",
        shape: |m| vec![m.tendons.len()],
        read: |p, out| out.extend(&p.tendon_damping),
        write: |p, x| p.tendon_damping.copy_from_slice(x),
    },
    ParamField {
        name: "tendon_frictionloss",
        shape: |m| vec![m.tendons.len()],
        read: |p, out| out.extend(&p.tendon_frictionloss),
        write: |p, x| p.tendon_frictionloss.copy_from_slice(x),
    },
    ParamField {
        name: "tendon_lengthspring",
        shape: |m| vec![m.tendons.len(), 2],
        read: |p, out| p.tendon_lengthspring.iter().for_each(|r| out.extend(r)),
        write: |p, x| {
            x.chunks(2)
                .zip(&mut p.tendon_lengthspring)
                .for_each(|(c, r)| *r = [c[0], c[1]])
        },
    },
    ParamField {
        name: "tendon_kp",
        shape: |m| vec![m.tendons.len()],
        read: |p, out| out.extend(&p.tendon_kp),
        write: |p, x| p.tendon_kp.copy_from_slice(x),
    },
    ParamField {
        name: "tendon_kv",
        shape: |m| vec![m.tendons.len()],
        read: |p, out| out.extend(&p.tendon_kv),
        write: |p, x| p.tendon_kv.copy_from_slice(x),
    },
    ParamField {
        name: "tendon_force_range",
        shape: |m| vec![m.tendons.len(), 2],
        read: |p, out| p.tendon_force_range.iter().for_each(|r| out.extend(r)),
        write: |p, x| {
            x.chunks(2)
                .zip(&mut p.tendon_force_range)
                .for_each(|(c, r)| *r = [c[0], c[1]])
        },
    },
    ParamField {
        name: "eq_solref",
        shape: |m| vec![m.equalities.len(), 2],
        read: |p, out| p.eq_solref.iter().for_each(|r| out.extend(r)),
        write: |p, x| {
            x.chunks(2)
                .zip(&mut p.eq_solref)
                .for_each(|(c, r)| *r = [c[0], c[1]])
        },
    },
    ParamField {
        name: "eq_polycoef",
        shape: |m| vec![m.equalities.len(), 5],
        read: |p, out| p.eq_polycoef.iter().for_each(|r| out.extend(r)),
        write: |p, x| {
            x.chunks(5)
                .zip(&mut p.eq_polycoef)
                .for_each(|(c, r)| r.copy_from_slice(c))
        },
    },
    ParamField {
        name: "fluid_density",
        shape: |_| vec![1],
        read: |p, out| out.push(p.fluid_density),
        write: |p, x| p.fluid_density = x[0],
    },
    ParamField {
        name: "fluid_viscosity",
        shape: |_| vec![1],
        read: |p, out| out.push(p.fluid_viscosity),
        write: |p, x| p.fluid_viscosity = x[0],
    },
    ParamField {
        name: "wind",
        shape: |_| vec![3],
        read: |p, out| out.extend(p.wind.iter()),
        write: |p, x| p.wind = Vec3::from_column_slice(x),
    },
    ParamField {
        name: "mocap_pos",
        shape: |m| vec![m.nmocap(), 3],
        read: |p, out| p.mocap_pos.iter().for_each(|v| out.extend(v.iter())),
        write: |p, x| {
            for (v, c) in p.mocap_pos.iter_mut().zip(x.chunks(3)) {
                *v = Vec3::from_column_slice(c);
            }
        },
    },
    ParamField {
        name: "body_xfrc",
        shape: |m| vec![m.nbody, 6],
        read: |p, out| p.body_xfrc.iter().for_each(|w| out.extend(w)),
        write: |p, x| {
            for (w, c) in p.body_xfrc.iter_mut().zip(x.chunks(6)) {
                w.copy_from_slice(c);
            }
        },
    },
    ParamField {
        name: "mocap_quat",
        shape: |m| vec![m.nmocap(), 4],
        read: |p, out| p.mocap_quat.iter().for_each(|q| out.extend(q)),
        write: |p, x| {
            for (q, c) in p.mocap_quat.iter_mut().zip(x.chunks(4)) {
                q.copy_from_slice(c);
            }
        },
    },
];

/// The field named `name`; an error naming the known ones otherwise.
pub fn param_field(name: &str) -> Result<&'static ParamField> {
    PARAM_FIELDS.iter().find(|f| f.name == name).ok_or_else(|| {
        let known: Vec<&str> = PARAM_FIELDS.iter().map(|f| f.name).collect();
        Error::invalid(
            "param name",
            format!("unknown parameter '{name}'; known: {}", known.join(", ")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::Pose;
    use crate::model::builder::BaseMode;
    use crate::model::{primitives, ModelBuilder};

    #[test]
    fn every_field_reads_back_what_it_writes_and_refuses_bad_values() {
        let mut b = ModelBuilder::new();
        b.add_entity(
            primitives::box_(Vec3::new(0.1, 0.2, 0.3), 100.0),
            Pose::identity(),
            BaseMode::Free,
        );
        let model = b.build().unwrap();
        let mut p = model.params0.clone();
        for f in &PARAM_FIELDS {
            let mut x = Vec::new();
            f.read(&p, &mut x);
            assert_eq!(x.len(), f.size(&model), "{}", f.name);
            let y: Vec<f64> = x.iter().map(|v| v * 1.5).collect();
            f.write(&mut p, &y).unwrap();
            let mut back = Vec::new();
            f.read(&p, &mut back);
            assert_eq!(back, y, "{}", f.name);
            if y.is_empty() {
                continue; // a model without tendons has no tendon parameters
            }
            let mut nan = y.clone();
            let last = nan.len() - 1;
            nan[last] = f64::NAN;
            let err = f.write(&mut p, &nan).unwrap_err().to_string();
            assert!(err.starts_with(f.name), "{err}");
            let mut after = Vec::new();
            f.read(&p, &mut after);
            assert_eq!(after, y, "{}: a refused value must not be written", f.name);
        }
        let unknown = param_field("dof_kq").expect_err("no field dof_kq");
        assert!(unknown.to_string().contains("dof_kp"), "{unknown}");
    }
}
