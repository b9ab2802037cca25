//! Shared test scenes: a contact-rich scene (boxes and a sphere on a floor, a box on a box,
//! a two-link arm driven into its joint limits) with a start state and controls in every mode.
// each test binary uses its own part of this module
#![allow(dead_code)]

use kinegrad::math::{Mat3, Pose, Quat, Vec3};
use kinegrad::model::builder::{BaseMode, BodySpec, EntitySpec, GeomSpec, JointSpec};
use kinegrad::model::{primitives, CtrlMode, GeomType, JointType, ModelBuilder};
use kinegrad::{Control, Model, State};

pub fn box_inertia(m: f64, h: Vec3) -> Mat3 {
    Mat3::from_diagonal(&Vec3::new(
        h.y * h.y + h.z * h.z,
        h.x * h.x + h.z * h.z,
        h.x * h.x + h.y * h.y,
    )) * (m / 3.0)
}

fn free_body(name: &str, kind: GeomType, size: Vec3, pos: Vec3) -> (EntitySpec, Pose) {
    let mut b = BodySpec::new(name, None);
    b.mass = 1.0;
    b.ipos = Vec3::new(0.005, -0.004, 0.003);
    b.inertia = box_inertia(1.0, Vec3::new(0.1, 0.1, 0.08));
    let mut g = GeomSpec::new(kind, size);
    g.friction[0] = 0.6;
    g.solimp = [0.8, 0.95, 0.02, 0.5, 2.0];
    b.geoms.push(g);
    let e = EntitySpec {
        name: name.into(),
        bodies: vec![b],
        ..Default::default()
    };
    let pose = Pose {
        pos,
        rot: Mat3::from(nalgebra::Rotation3::from_euler_angles(0.05, -0.03, 0.4)),
    };
    (e, pose)
}

/// A floor, a box and a sphere on it, a box resting on the first box, and a two-link arm
/// (hinges with limits, PD and velocity control) that swings into its limits.
pub fn scene(substeps: usize) -> Model {
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.01;
    b.options.substeps = substeps;
    b.options.tolerance = 1e-12;
    let mut ground = BodySpec::new("ground", None);
    let mut g = GeomSpec::new(GeomType::Plane, Vec3::zeros());
    g.friction[0] = 0.9;
    ground.geoms.push(g);
    b.add_entity(
        EntitySpec {
            name: "ground".into(),
            bodies: vec![ground],
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::Fixed,
    );
    let bodies = [
        free_body(
            "box",
            GeomType::Box,
            Vec3::new(0.1, 0.1, 0.05),
            Vec3::new(0.0, 0.0, 0.049),
        ),
        free_body(
            "ball",
            GeomType::Sphere,
            Vec3::new(0.08, 0.0, 0.0),
            Vec3::new(0.5, 0.0, 0.15),
        ),
        free_body(
            "top",
            GeomType::Box,
            Vec3::new(0.06, 0.06, 0.04),
            Vec3::new(0.01, 0.02, 0.138),
        ),
    ];
    for (e, pose) in bodies {
        b.add_entity(e, pose, BaseMode::Free);
    }
    let link = |name: &str, parent: Option<usize>, pos: Vec3| {
        let mut l = BodySpec::new(name, parent);
        l.pos = pos;
        l.quat = Quat::from_euler_angles(0.1, 0.0, 0.2);
        l.mass = 0.7;
        l.ipos = Vec3::new(0.0, 0.0, -0.12);
        l.inertia = Mat3::new(0.02, 0.001, 0.0, 0.001, 0.015, 0.0, 0.0, 0.0, 0.01);
        let mut j = JointSpec::new(format!("{name}_j"), JointType::Hinge);
        j.axis = Vec3::new(0.0, 1.0, 0.1);
        j.range = Some([-0.3, 0.25]);
        j.damping = 0.2;
        j.kp = 30.0;
        j.kv = 2.0;
        l.joints.push(j);
        l
    };
    b.add_entity(
        EntitySpec {
            name: "arm".into(),
            bodies: vec![
                link("upper", None, Vec3::new(-1.0, 0.0, 1.0)),
                link("lower", Some(0), Vec3::new(0.0, 0.0, -0.25)),
            ],
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::AsIs,
    );
    b.build().unwrap()
}

pub fn start(model: &Model) -> State {
    let mut s = State::new(model);
    // slide the lower box and the ball
    s.v[0] = 0.8;
    s.v[1] = 0.2;
    s.v[6] = -0.5;
    s.v[7] = 0.6;
    s.v[11] = 3.0;
    s
}

pub fn controls(model: &Model, steps: usize) -> Vec<Control> {
    let nv = model.nv;
    (0..steps)
        .map(|t| {
            let mut c = Control::new(model);
            for i in 0..nv {
                c.target[i] = 0.3 * ((t * nv + i) as f64 * 0.7).sin();
            }
            // the arm: PD towards alternating sides (into the limits), then velocity control
            c.mode[nv - 2] = CtrlMode::Position;
            c.target[nv - 2] = if (t / 15) % 2 == 0 { 0.6 } else { -0.6 };
            c.mode[nv - 1] = CtrlMode::Velocity;
            c.target[nv - 1] = if (t / 10) % 2 == 0 { 4.0 } else { -4.0 };
            c
        })
        .collect()
}

/// splitmix64: a small deterministic generator for the tests' random inputs (the same sequence
/// as `examples/franka_soak.rs`, so a test can replay one of its runs).
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// `n` numbers uniform in [-1, 1).
    pub fn signed(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| 2.0 * self.uniform() - 1.0).collect()
    }

    /// A uniformly chosen element of `v`.
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// `side x side` columns of `layers` free boxes of 0.1 m (500 kg/m^3) on a plane, the columns
/// `gap` apart (a negative gap: they press on each other, so boxes also touch their
/// neighbours), the layers 0.5 mm apart, box k turned `yaw (k mod 5)` about z; dt 0.002.
pub fn box_pile(side: usize, layers: usize, gap: f64, yaw: f64) -> Model {
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.002;
    b.add_entity(
        primitives::plane(Vec3::z()),
        Pose::identity(),
        BaseMode::Fixed,
    );
    let pitch = 0.1 + gap;
    let c = (side as f64 - 1.0) / 2.0;
    for k in 0..side * side * layers {
        let (layer, i, j) = (k / (side * side), (k % (side * side)) / side, k % side);
        let pos = Vec3::new(
            (i as f64 - c) * pitch,
            (j as f64 - c) * pitch,
            0.0505 + layer as f64 * 0.1005,
        );
        let rot = *Quat::from_euler_angles(0.0, 0.0, yaw * (k % 5) as f64)
            .to_rotation_matrix()
            .matrix();
        let e = primitives::box_(Vec3::new(0.1, 0.1, 0.1), 500.0);
        b.add_entity(e, Pose { pos, rot }, BaseMode::Free);
    }
    b.build().unwrap()
}

/// The loss on the state after `steps` unforced steps from `s0` under `params`,
/// `w . q + kv |v|^2`, and, with `grad`, its gradient by the reverse pass.
pub fn final_loss(
    model: &Model,
    params: &kinegrad::Params,
    s0: &State,
    steps: usize,
    (w, kv): (&[f64], f64),
    grad: bool,
) -> (f64, Option<kinegrad::adjoint::rollout::RolloutGrad>) {
    use kinegrad::adjoint::rollout::{rollout, rollout_vjp};
    let controls = vec![Control::new(model); steps];
    let mut data = kinegrad::Data::new(model);
    let states = rollout(model, params, s0, &controls, &mut data).unwrap();
    let last = &states[steps];
    let loss = last.q.iter().zip(w).map(|(a, b)| a * b).sum::<f64>()
        + kv * last.v.iter().map(|x| x * x).sum::<f64>();
    if !grad {
        return (loss, None);
    }
    let g = rollout_vjp(
        model,
        params,
        &states,
        &controls,
        &mut data,
        |t, st, qb, vb| {
            if t == steps {
                qb.copy_from_slice(w);
                vb.iter_mut()
                    .zip(&st.v)
                    .for_each(|(b, v)| *b = 2.0 * kv * v);
            }
        },
    )
    .unwrap();
    (loss, Some(g))
}

/// One unforced step (every control channel at rest) with the model's own parameters.
pub fn step_unforced(
    model: &Model,
    s: &mut State,
    carry: &mut kinegrad::StepCarry,
    d: &mut kinegrad::Data,
) {
    kinegrad::pipeline::step(model, &model.params0, s, &Control::new(model), carry, d).unwrap();
}
