//! Gradient descent through 100 simulated steps with kinegrad's Rust API: find the initial
//! velocity that makes a thrown ball hit a target after 1 s, and compare with the closed-form
//! answer of the semi-implicit Euler dynamics.
//!
//! `cargo run --release --example optimize_throw`

use kinegrad::adjoint::rollout::{rollout, rollout_vjp};
use kinegrad::math::{Mat3, Pose, Vec3};
use kinegrad::model::builder::{BaseMode, BodySpec, EntitySpec, GeomSpec};
use kinegrad::model::{GeomType, ModelBuilder};
use kinegrad::{Control, Data, State};

fn main() -> kinegrad::Result<()> {
    let mut ball = BodySpec::new("ball", None);
    ball.mass = 0.2;
    ball.inertia = Mat3::identity() * (0.4 * 0.2 * 0.05 * 0.05);
    ball.geoms
        .push(GeomSpec::new(GeomType::Sphere, Vec3::new(0.05, 0.0, 0.0)));
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.01;
    b.add_entity(
        EntitySpec {
            name: "ball".into(),
            bodies: vec![ball],
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::Free,
    );
    let model = b.build()?;
    let params = model.params0.clone();
    let steps = 100;
    let target = Vec3::new(2.0, 0.5, 1.0);
    let controls = vec![Control::new(&model); steps];
    let mut data = Data::new(&model);

    let mut v0 = Vec3::new(1.0, 0.0, 1.0);
    let lr = 0.4;
    for it in 0..60 {
        let mut init = State::new(&model);
        init.v[..3].copy_from_slice(v0.as_slice());
        let states = rollout(&model, &params, &init, &controls, &mut data)?;
        let end = &states[steps];
        let miss = Vec3::new(end.q[0], end.q[1], end.q[2]) - target;
        let loss = miss.norm_squared();
        let grad = rollout_vjp(
            &model,
            &params,
            &states,
            &controls,
            &mut data,
            |t, _, qb, _| {
                if t == steps {
                    qb[..3].copy_from_slice((miss * 2.0).as_slice());
                }
            },
        )?;
        if it % 10 == 0 || loss < 1e-12 {
            println!(
                "iter {it:2}  loss {loss:.3e}  v0 = ({:.5}, {:.5}, {:.5})",
                v0.x, v0.y, v0.z
            );
        }
        if loss < 1e-12 {
            break;
        }
        v0 -= Vec3::new(grad.v0[0], grad.v0[1], grad.v0[2]) * lr;
    }
    // closed form for semi-implicit Euler: x_N = N h v0 + h^2 g N (N + 1) / 2
    let (n, h) = (steps as f64, model.opt.timestep);
    let exact = (target - params.gravity * (h * h * n * (n + 1.0) / 2.0)) / (n * h);
    println!(
        "optimized v0 = ({:.6}, {:.6}, {:.6}); closed form ({:.6}, {:.6}, {:.6}); error {:.1e}",
        v0.x,
        v0.y,
        v0.z,
        exact.x,
        exact.y,
        exact.z,
        (v0 - exact).norm()
    );
    Ok(())
}
