//! Actuator activation dynamics (MuJoCo's dyntype) in reverse: the gradient of a loss of the
//! final positions and activations after 100 steps with respect to the initial activations and
//! the control targets of every step, through a tape, against central differences; one
//! actuator of each kind (filter with a control range, exact filter on a geared position servo,
//! integrated velocity with an activation range that clamps, actearly filter, integrator).
//! (Parity of the forward steps with MuJoCo: python/tests/test_activation_vs_mujoco.py.)

use kinegrad::adjoint::rollout::Tape;
use kinegrad::math::Pose;
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{mjcf, CtrlMode, Integrator, ModelBuilder};
use kinegrad::{pipeline, Control, Data, Interrupt, Model, State, StepCarry};

const CHAIN: &str = r#"<mujoco><worldbody>
  <body name="a"><joint name="ja" type="hinge" axis="0 1 0" damping="0.05"/>
    <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
    <body name="b" pos="0.3 0 0"><joint name="jb" type="hinge" axis="0 1 0" damping="0.02"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
      <body name="c" pos="0.3 0 0"><joint name="jc" type="slide" axis="1 0 0"/>
        <geom type="box" size="0.05 0.05 0.05" mass="0.5"/>
        <body name="d" pos="0.1 0 0"><joint name="jd" type="hinge" axis="0 0 1"/>
          <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.3"/>
          <body name="e" pos="0.2 0 0"><joint name="je" type="hinge" axis="0 1 0"/>
            <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.3"/>
          </body></body></body></body></body>
</worldbody><actuator>
  <general joint="ja" dyntype="filter" dynprm="0.03" gainprm="3" ctrlrange="-1 1"/>
  <position joint="jb" kp="20" kv="1" timeconst="0.05" gear="2"/>
  <intvelocity joint="jc" kp="100" kv="5" actrange="-0.1 0.02"/>
  <general joint="jd" dyntype="filter" dynprm="0.02" gainprm="0.5" actearly="true"/>
  <general joint="je" dyntype="integrator" gainprm="0.4" actlimited="true" actrange="-0.08 0.05"/>
</actuator></mujoco>"#;

const STEPS: usize = 100;

fn model(integrator: Integrator) -> Model {
    let spec = mjcf::load_str(CHAIN, std::path::Path::new("activation.xml"), 1.0).unwrap();
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.002;
    b.options.integrator = integrator;
    b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    b.build().unwrap()
}

/// Per-step controls in each actuator's own mode: smooth, varied, and past the first channel's
/// range (3 N m) for a while.
fn controls(model: &Model) -> Vec<Control> {
    (0..STEPS)
        .map(|t| {
            let mut c = Control::new(model);
            for a in &model.actuators {
                c.mode[a.dof] = a.mode;
            }
            let s = t as f64 * 0.07;
            c.target[..5].copy_from_slice(&[
                3.5 * s.sin(),
                0.3 * (1.3 * s).cos(),
                0.8 * (0.7 * s).sin(),
                0.4 * (2.0 * s).cos(),
                0.6 * (0.9 * s + 1.0).sin(),
            ]);
            c
        })
        .collect()
}

const WQ: [f64; 5] = [1.0, -2.0, 3.0, 0.5, -1.5];
const WA: [f64; 5] = [0.3, -0.2, 0.7, 0.4, -0.9];

/// The loss after the steps from activations `act0` under `ctrl`.
fn loss(model: &Model, act0: &[f64], ctrl: &[Control]) -> f64 {
    let (mut d, mut carry) = (Data::new(model), StepCarry::new(model));
    let mut s = State::new(model);
    s.act.copy_from_slice(act0);
    for c in ctrl {
        pipeline::step(model, &model.params0, &mut s, c, &mut carry, &mut d).unwrap();
    }
    let dq: f64 = s.q.iter().zip(WQ).map(|(q, w)| q * w).sum();
    dq + s.act.iter().zip(WA).map(|(a, w)| a * w).sum::<f64>()
}

#[test]
fn gradients_through_activations_match_central_differences() {
    for integrator in [Integrator::Euler, Integrator::ImplicitFast] {
        let model = model(integrator);
        assert_eq!(model.na(), 5);
        assert!(model.actuators.iter().all(|a| a.mode
            == [CtrlMode::Force, CtrlMode::Position][usize::from(a.dof == 1 || a.dof == 2)]));
        let ctrl = controls(&model);
        let act0 = [0.5, -0.1, 0.01, 0.2, -0.03];
        // forward with a tape, then the reverse pass seeded at the final state
        let (mut d, mut carry) = (Data::new(&model), StepCarry::new(&model));
        let mut s = State::new(&model);
        s.act.copy_from_slice(&act0);
        let mut tape = Tape::new(model.params0.clone(), 1);
        let mut clamped = [false; 5];
        for c in &ctrl {
            tape.record(&s, c, &carry);
            pipeline::step(&model, &model.params0, &mut s, c, &mut carry, &mut d).unwrap();
            for (k, a) in model.activations.iter().enumerate() {
                clamped[k] |= s.act[k] == a.range[0] || s.act[k] == a.range[1];
            }
        }
        // the activation ranges of the intvelocity and the integrator clamp along the way
        assert!(clamped[2] && clamped[4], "{clamped:?}");
        let mut targets_bar = vec![vec![0.0; model.nu()]; STEPS];
        let g = tape
            .vjp_interruptible(
                &model,
                &mut d,
                None,
                None,
                Interrupt::never(),
                &WA,
                |t, qb, _| {
                    if t + 1 == STEPS {
                        qb.copy_from_slice(&WQ);
                    }
                },
                |t, g| targets_bar[t].copy_from_slice(g),
            )
            .unwrap();
        let eps = 1e-6;
        let check = |what: String, an: f64, fd: f64| {
            println!("{integrator:?} {what}: autograd {an:.10e} fd {fd:.10e}");
            assert!(
                (an - fd).abs() <= 1e-5 * fd.abs().max(1e-3),
                "{integrator:?} {what}: {an} vs {fd}"
            );
        };
        for k in 0..5 {
            let (mut hi, mut lo) = (act0, act0);
            hi[k] += eps;
            lo[k] -= eps;
            let fd = (loss(&model, &hi, &ctrl) - loss(&model, &lo, &ctrl)) / (2.0 * eps);
            check(format!("act0[{k}]"), g.act0[k], fd);
        }
        for (t, ch) in [
            (0, 0),
            (3, 3),
            (10, 1),
            (12, 2),
            (40, 2),
            (60, 4),
            (95, 3),
            (99, 3),
        ] {
            let at = |x: f64| {
                let mut c = ctrl.clone();
                c[t].target[ch] += x;
                loss(&model, &act0, &c)
            };
            let fd = (at(eps) - at(-eps)) / (2.0 * eps);
            check(format!("target[{t}][{ch}]"), targets_bar[t][ch], fd);
        }
        // a control acts on the force one step later (the law reads the activation at the
        // step's start): the last step's control of the filtered motor reaches the loss only
        // through the final activation, d act' / d u = h / tau
        let direct = WA[0] * 0.002 / 0.03;
        assert!(
            (targets_bar[99][0] - direct).abs() <= 1e-15,
            "{}",
            targets_bar[99][0]
        );
    }
}
