//! Arrays in and out: numpy arrays checked for shape (naming the argument) and read as the
//! flat, env-major slices the core takes; flat results shaped back into arrays.

use crate::{invalid, to_py_err};
use kinegrad::model::params::PARAM_FIELDS;
use kinegrad::model::JointType;
use kinegrad::{CtrlMode, Model, Params};
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyReadonlyArray, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::borrow::Cow;

/// The values of `a`, row-major, after checking that its shape is `shape` (the engine checks
/// finiteness, naming the argument as `name` does here).
pub fn values<'a, T: numpy::Element + Clone, D: numpy::ndarray::Dimension>(
    a: &'a PyReadonlyArray<'_, T, D>,
    name: &str,
    shape: &[usize],
) -> PyResult<Cow<'a, [T]>> {
    if a.shape() != shape {
        let want: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        return Err(invalid(format!(
            "{name}: expected shape ({}), got {:?}",
            want.join(", "),
            a.shape()
        )));
    }
    Ok(match a.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(a.as_array().iter().cloned().collect()),
    })
}

/// [`values`] of an optional array.
pub fn opt_values<'a, D: numpy::ndarray::Dimension>(
    a: &'a Option<PyReadonlyArray<'_, f64, D>>,
    name: &str,
    shape: &[usize],
) -> PyResult<Option<Cow<'a, [f64]>>> {
    a.as_ref().map(|a| values(a, name, shape)).transpose()
}

/// Control modes from an int8 array of one of `shapes`; whether it is the second (per step).
pub fn modes(
    a: &PyReadonlyArrayDyn<'_, i8>,
    shapes: &[&[usize]],
) -> PyResult<(Vec<CtrlMode>, bool)> {
    let Some(k) = shapes.iter().position(|s| a.shape() == *s) else {
        let alts: Vec<String> = shapes
            .iter()
            .map(|s| format!("{s:?}").replace('[', "(").replace(']', ")"))
            .collect();
        return Err(invalid(format!(
            "mode: expected shape {}, got {:?}",
            alts.join(" or "),
            a.shape()
        )));
    };
    let m = a
        .as_array()
        .iter()
        .map(|&c| CtrlMode::from_code(c))
        .collect::<Result<_, _>>();
    Ok((m.map_err(to_py_err)?, k == 1))
}

/// A float64 array of `shape` holding `x` (row-major).
pub fn array<'py>(py: Python<'py>, shape: &[usize], x: Vec<f64>) -> Bound<'py, PyAny> {
    ArrayD::from_shape_vec(IxDyn(shape), x)
        .expect("shape")
        .into_pyarray(py)
        .into_any()
}

/// Parameter adjoints (or values) of every env as a dict name -> (n_envs, *shape) array, for
/// the parameters `names` (default: all).
pub fn params_dict<'py>(
    py: Python<'py>,
    model: &Model,
    grads: &[&Params],
    names: Option<&[String]>,
) -> PyResult<Bound<'py, PyDict>> {
    let all: Vec<String>;
    let names = match names {
        Some(n) => n,
        None => {
            all = PARAM_FIELDS.iter().map(|f| f.name.to_string()).collect();
            &all
        }
    };
    let d = PyDict::new(py);
    for name in names {
        let (shape, x) = kinegrad::sim::stacked(model, name, grads).map_err(to_py_err)?;
        d.set_item(
            name,
            ArrayD::from_shape_vec(IxDyn(&shape), x)
                .expect("shape")
                .into_pyarray(py),
        )?;
    }
    Ok(d)
}

/// An array of any shape as (shape, row-major values).
pub fn dyn_values(a: &PyReadonlyArrayDyn<'_, f64>) -> (Vec<usize>, Vec<f64>) {
    (a.shape().to_vec(), a.as_array().iter().copied().collect())
}

/// The model description as a dict of plain lists (keys in the `.pyi` stub); -1 stands for none.
pub fn describe<'py>(py: Python<'py>, m: &Model) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    macro_rules! put {
        ($($f:ident),*) => { $(d.set_item(stringify!($f), &m.$f)?;)* };
    }
    put!(
        nq,
        nv,
        nbody,
        njnt,
        ngeom,
        body_name,
        body_jnt_adr,
        body_jnt_num,
        body_dof_adr
    );
    put!(
        body_dof_num,
        jnt_name,
        jnt_body,
        jnt_qpos_adr,
        jnt_dof_adr,
        jnt_limited,
        jnt_range
    );
    put!(dof_body, dof_jnt, geom_name, geom_body, qpos0, entity_name);
    put!(
        entity_body_adr,
        entity_body_num,
        entity_jnt_adr,
        entity_jnt_num,
        entity_dof_adr
    );
    put!(
        entity_dof_num,
        entity_qpos_adr,
        entity_qpos_num,
        entity_geom_adr,
        entity_geom_num
    );
    let idx = |v: &[usize]| -> Vec<i64> {
        v.iter()
            .map(|&x| if x == usize::MAX { -1 } else { x as i64 })
            .collect()
    };
    d.set_item("nu", m.nu())?;
    // the channel each activation state drives (the order of `Sim.get_act`'s columns)
    d.set_item(
        "act_channel",
        m.activations.iter().map(|a| a.channel).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "tendon_name",
        m.tendons.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "tendon_terms",
        m.tendons
            .iter()
            .map(|t| t.terms.iter().map(|&(a, c)| (a, c)).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
    )?;
    d.set_item(
        "tendon_spatial",
        m.tendons.iter().map(|t| t.is_spatial()).collect::<Vec<_>>(),
    )?;
    // a tendon belongs to the entity of its joints' (or sites') bodies
    d.set_item(
        "tendon_entity",
        m.tendons
            .iter()
            .map(|t| {
                t.jac
                    .first()
                    .map_or(-1, |&(dof, _)| m.body_entity[m.dof_body[dof]] as i64)
            })
            .collect::<Vec<_>>(),
    )?;
    d.set_item("timestep", m.opt.timestep)?;
    d.set_item("substeps", m.opt.substeps)?;
    d.set_item("body_parent", idx(&m.body_parent))?;
    d.set_item("body_entity", idx(&m.body_entity))?;
    d.set_item("body_mocap", idx(&m.body_mocap))?;
    // per joint, from the kind's table (`kinegrad::joint`): name, sizes, and the offset of the
    // quaternion block in the joint's coordinates (-1: none)
    let per_jnt = |f: fn(JointType) -> i64| m.jnt_type.iter().map(|&t| f(t)).collect::<Vec<_>>();
    d.set_item(
        "jnt_type",
        m.jnt_type.iter().map(|t| t.name()).collect::<Vec<_>>(),
    )?;
    d.set_item("jnt_nq", per_jnt(|t| t.nq() as i64))?;

    d.set_item("jnt_nv", per_jnt(|t| t.nv() as i64))?;
    d.set_item(
        "jnt_quat_offset",
        per_jnt(|t| t.quat_offset().map_or(-1, |o| o as i64)),
    )?;
    d.set_item(
        "geom_type",
        m.geom_type.iter().map(|t| t.name()).collect::<Vec<_>>(),
    )?;
    d.set_item("geom_visual", m.geom_visual.clone())?;
    d.set_item(
        "geom_pos",
        m.geom_pos
            .iter()
            .map(|p| [p.x, p.y, p.z])
            .collect::<Vec<_>>(),
    )?;
    d.set_item(
        "geom_quat",
        m.geom_quat
            .iter()
            .map(|q| [q.w, q.i, q.j, q.k])
            .collect::<Vec<_>>(),
    )?;
    d.set_item("geom_contype", m.geom_contype.clone())?;
    d.set_item("geom_conaffinity", m.geom_conaffinity.clone())?;
    d.set_item("geom_rgba", m.geom_rgba.clone())?;
    d.set_item(
        "geom_mesh",
        m.geom_mesh
            .iter()
            .map(|x| x.map_or(-1, |i| i as i64))
            .collect::<Vec<_>>(),
    )?;
    d.set_item(
        "geom_size",
        m.geom_size
            .iter()
            .map(|s| [s.x, s.y, s.z])
            .collect::<Vec<_>>(),
    )?;
    put!(site_name, site_body, entity_site_adr, entity_site_num);
    let keys = m.keyframes.iter().map(|k| {
        let kd = PyDict::new(py);
        kd.set_item("entity", k.entity)?;
        kd.set_item("name", &k.name)?;
        kd.set_item("qpos", &k.qpos)?;
        kd.set_item("qvel", &k.qvel)?;
        kd.set_item("ctrl", &k.ctrl)?;
        Ok(kd)
    });
    d.set_item("keyframes", keys.collect::<PyResult<Vec<_>>>()?)?;
    d.set_item(
        "site_pos",
        m.site_pos
            .iter()
            .map(|p| [p.x, p.y, p.z])
            .collect::<Vec<_>>(),
    )?;
    d.set_item(
        "site_quat",
        m.site_quat
            .iter()
            .map(|q| [q.w, q.i, q.j, q.k])
            .collect::<Vec<_>>(),
    )?;
    let acts = m.actuators.iter().map(|a| {
        let ad = PyDict::new(py);
        ad.set_item("name", &a.name)?;
        ad.set_item("dof", a.dof)?;
        ad.set_item("mode", a.mode.code())?;
        ad.set_item("ctrl_range", a.ctrl_range)?;
        ad.set_item("target_range", a.target_range)?;
        Ok(ad)
    });
    d.set_item("actuators", acts.collect::<PyResult<Vec<_>>>()?)?;
    Ok(d)
}
