//! The structures that make many bodies affordable, on piles of boxes:
//! - the sparse Newton Hessian (`constraint::hessian`, used above `DENSE_MAX_NV` dofs): its
//!   factor solves the Hessian assembled densely here from M and the active rows, its symbolic
//!   analysis is kept while the body pairs in contact hold, and a step's reverse pass through
//!   it matches central differences;
//! - the broadphase (`detect`, above `SWEEP_MIN_PAIRS` candidate pairs): the same contacts as
//!   testing every pair.

use kinegrad::adjoint::step::{step_vjp, VjpScratch};
use kinegrad::adjoint::StepGrad;
use kinegrad::data::{HessianKind, DENSE_MAX_NV};
use kinegrad::dynamics::mass;
use kinegrad::fd::{step_jvp_fd, StepDirection};
use kinegrad::{pipeline, Control, Data, Model, State, StepCarry};

mod common;

use common::{box_pile, Rng};

/// The pile of [`box_pile`], each box turned a little about z.
fn pile(side: usize, layers: usize, gap: f64) -> Model {
    box_pile(side, layers, gap, 0.01)
}

fn settle(model: &Model, steps: usize) -> (State, Control, StepCarry, Data) {
    let mut s = State::new(model);
    let c = Control::new(model);
    let mut carry = StepCarry::new(model);
    let mut d = Data::new(model);
    for _ in 0..steps {
        pipeline::step(model, &model.params0, &mut s, &c, &mut carry, &mut d).unwrap();
    }
    (s, c, carry, d)
}

#[test]
fn sparse_factor_solves_the_hessian_assembled_densely() {
    for gap in [0.005, -0.0005] {
        let model = pile(3, 2, gap);
        assert!(model.nv > DENSE_MAX_NV);
        let (_, _, _, d) = settle(&model, 150);
        assert_eq!(d.hess.kind(), HessianKind::Sparse);
        let nv = model.nv;
        // H = M_h + sum over active rows of D_r J_r^T J_r, dense
        let mut h = vec![0.0; nv * nv];
        mass::to_dense(&model, &d.qm_h, &mut h);
        let mut lateral = 0;
        for r in 0..d.nefc {
            if !d.efc_active[r] {
                continue;
            }
            let (dofs, row) = d.efc_row(r);
            lateral += (dofs.len() == 12) as usize;
            for (&i, ji) in dofs.iter().zip(row) {
                for (&k, jk) in dofs.iter().zip(row) {
                    h[i * nv + k] += d.efc_d[r] * ji * jk;
                }
            }
        }
        assert!(lateral > 0, "rows between two boxes");
        let b = Rng(3).signed(nv);
        let mut x = b.clone();
        d.hess.solve(&model, &mut x);
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for i in 0..nv {
            let hx: f64 = (0..nv).map(|k| h[i * nv + k] * x[k]).sum();
            assert!(
                (hx - b[i]).abs() < 1e-9 * scale,
                "gap {gap}, row {i}: (H x)_i = {hx} vs b_i = {}",
                b[i]
            );
        }
    }
}

#[test]
fn symbolic_analysis_is_kept_while_the_pairs_in_contact_hold() {
    let model = pile(3, 2, 0.005);
    let (mut s, c, mut carry, mut d) = settle(&model, 400);
    let pairs = |d: &Data| {
        let mut p: Vec<(usize, usize)> = d
            .contacts
            .iter()
            .map(|c| (model.geom_body[c.geom1], model.geom_body[c.geom2]))
            .collect();
        p.sort_unstable();
        p.dedup();
        p
    };
    let (before, first) = (d.hess.analyses(), pairs(&d));
    let mut changes = 0;
    let mut last = first.clone();
    for _ in 0..50 {
        pipeline::step(&model, &model.params0, &mut s, &c, &mut carry, &mut d).unwrap();
        let now = pairs(&d);
        changes += (now != last) as usize;
        last = now;
    }
    assert!(!first.is_empty());
    assert_eq!(
        d.hess.analyses() - before,
        changes,
        "one analysis per change of the body pairs in contact"
    );
    assert!(
        changes < 5,
        "a resting pile keeps its pairs ({changes} changes)"
    );
}

#[test]
fn step_vjp_through_the_sparse_hessian_matches_finite_differences() {
    // columns apart: the pressed pile's near-parallel box faces switch contact features within
    // a difference step of 1e-7 (on the dense path as well)
    let model = pile(3, 2, 0.005);
    let (s, c, carry, _) = settle(&model, 150);
    let mut rng = Rng(7);
    let (yq, yv) = (rng.signed(model.nq), rng.signed(model.nv));
    let mut g = StepGrad::zeros(&model);
    let mut data = Data::new(&model);
    let mut sc = VjpScratch::new(&model);
    step_vjp(
        &model,
        &model.params0,
        &s,
        &c,
        &carry,
        &mut data,
        &mut sc,
        &yq,
        &yv,
        &[],
        &mut g,
    )
    .unwrap();
    assert_eq!(data.hess.kind(), HessianKind::Sparse);
    for (name, dq, dv) in [
        ("v", vec![0.0; model.nq], rng.signed(model.nv)),
        ("q", rng.signed(model.nq), vec![0.0; model.nv]),
    ] {
        let dir = StepDirection {
            q: dq,
            v: dv,
            target: vec![0.0; model.nv],
            params: kinegrad::adjoint::params_zeros(&model),
        };
        let (fq, fv) = step_jvp_fd(&model, &model.params0, &s, &c, &dir, 1e-7).unwrap();
        let lhs: f64 = fq.iter().zip(&yq).map(|(a, b)| a * b).sum::<f64>()
            + fv.iter().zip(&yv).map(|(a, b)| a * b).sum::<f64>();
        let rhs = dir.dot(&g);
        let err = (lhs - rhs).abs() / lhs.abs().max(rhs.abs());
        assert!(
            err < 1e-5,
            "{name}: fd {lhs:.9e} vs vjp {rhs:.9e} ({err:.1e})"
        );
    }
}

#[test]
fn broadphase_sweep_finds_the_contacts_of_every_pair_test() {
    // 36 boxes (630 candidate pairs, above SWEEP_MIN_PAIRS), pressed together, one geom with a
    // margin (its box is inflated in the sweep)
    let mut model = pile(3, 4, -0.0005);
    assert!(model.collision_pairs.len() > kinegrad::detect::SWEEP_MIN_PAIRS);
    model.geom_margin[7] = 0.01;
    let mut s = State::new(&model);
    let c = Control::new(&model);
    let mut carry = StepCarry::new(&model);
    let mut d = Data::new(&model);
    let mut seen = 0;
    for step in 0..200 {
        pipeline::step(&model, &model.params0, &mut s, &c, &mut carry, &mut d).unwrap();
        if step % 20 == 0 {
            let mut all = d.clone();
            kinegrad::detect::detect_with(&model, &model.params0, &mut all, false);
            kinegrad::detect::detect_with(&model, &model.params0, &mut d, true);
            assert_eq!(all.contacts, d.contacts, "step {step}");
            seen += d.contacts.len();
        }
    }
    assert!(seen > 500, "{seen} contacts");
}

/// Twelve free boxes on a plane (nv 72, the sparse Hessian), chained by connect constraints and
/// one welded to the world: the equality rows couple bodies that no contact pairs.
fn chained_boxes() -> Model {
    use kinegrad::math::Pose;
    use kinegrad::model::builder::BaseMode;
    use kinegrad::model::{mjcf, ModelBuilder};
    let mut xml = String::from(
        r#"<mujoco><option timestep="0.005"/><worldbody><geom type="plane" size="5 5 0.1"/>"#,
    );
    for i in 0..12 {
        let (x, y) = ((i % 4) as f64 * 0.25, (i / 4) as f64 * 0.25);
        xml += &format!(
            r#"<body name="b{i}" pos="{x} {y} 0.11" euler="0 0 {}"><freejoint/><geom type="box" size="0.08 0.06 0.1" mass="1"/></body>"#,
            7.0 * i as f64
        );
    }
    xml += "</worldbody><equality>";
    for i in 0..11 {
        xml += &format!(
            r#"<connect body1="b{i}" body2="b{}" anchor="0.1 0 0"/>"#,
            i + 1
        );
    }
    xml += r#"<weld body1="b5" relpose="0 0 0.05 1 0 0 0"/></equality></mujoco>"#;
    let path = std::path::Path::new("chained_boxes.xml");
    let spec = mjcf::load_str(&xml, path, 1.0).unwrap();
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.005;
    b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    b.build().unwrap()
}

#[test]
fn sparse_hessian_holds_equality_rows_between_bodies_out_of_contact() {
    use kinegrad::data::{RowKind, RowState};
    let model = chained_boxes();
    assert!(model.nv > DENSE_MAX_NV);
    let (s, c, carry, d) = settle(&model, 60);
    assert_eq!(d.hess.kind(), HessianKind::Sparse);
    assert!(d
        .efc_kind
        .iter()
        .any(|k| matches!(k, RowKind::Equality(..))));
    let nv = model.nv;
    let mut h = vec![0.0; nv * nv];
    mass::to_dense(&model, &d.qm_h, &mut h);
    for r in 0..d.nefc {
        if d.efc_state[r] != RowState::Quadratic {
            continue;
        }
        let (dofs, row) = d.efc_row(r);
        for (&i, ji) in dofs.iter().zip(row) {
            for (&k, jk) in dofs.iter().zip(row) {
                h[i * nv + k] += d.efc_d[r] * ji * jk;
            }
        }
    }
    let b = Rng(5).signed(nv);
    let mut x = b.clone();
    d.hess.solve(&model, &mut x);
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for i in 0..nv {
        let hx: f64 = (0..nv).map(|k| h[i * nv + k] * x[k]).sum();
        assert!(
            (hx - b[i]).abs() < 1e-9 * scale,
            "row {i}: {hx} vs {}",
            b[i]
        );
    }
    // and a step's reverse through it
    let mut rng = Rng(8);
    let dir = StepDirection {
        q: rng.signed(model.nq),
        v: rng.signed(nv),
        target: vec![0.0; nv],
        params: kinegrad::adjoint::params_zeros(&model),
    };
    let (yq, yv) = (rng.signed(model.nq), rng.signed(nv));
    let (dq, dv) = step_jvp_fd(&model, &model.params0, &s, &c, &dir, 1e-7).unwrap();
    let fd: f64 = dq.iter().zip(&yq).map(|(a, b)| a * b).sum::<f64>()
        + dv.iter().zip(&yv).map(|(a, b)| a * b).sum::<f64>();
    let mut g = StepGrad::zeros(&model);
    step_vjp(
        &model,
        &model.params0,
        &s,
        &c,
        &carry,
        &mut Data::new(&model),
        &mut VjpScratch::new(&model),
        &yq,
        &yv,
        &[],
        &mut g,
    )
    .unwrap();
    let an = dir.dot(&g);
    let err = (fd - an).abs() / fd.abs().max(an.abs());
    println!("fd {fd:.10e} adjoint {an:.10e} rel {err:.1e}");
    assert!(err < 1e-6, "relative error {err:.2e}");
}
