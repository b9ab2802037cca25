//! Model building scales with the number of bodies: the constants of `build` (dof and body
//! inverse weights, mean inertia, collision pairs) are computed without nv x nv matrices, and
//! they match the dense computation (M from CRBA, its inverse by Cholesky).
// the dense reference indexes several per-body and per-dof arrays in lockstep, as the engine's
// kernels do (lib.rs allows the same lint for them)
#![allow(clippy::needless_range_loop)]

use kinegrad::data::Data;
use kinegrad::math::{Mat3, Pose, Quat, Vec3};
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{
    urdf, BodySpec, EntitySpec, GeomSpec, GeomType, JointSpec, JointType, Model, ModelBuilder,
};
use std::fmt::Write;
use std::path::Path;

/// The dense reference: (dof_invweight0, body_invweight0, stat_meaninertia).
fn dense_invweight0(m: &Model) -> (Vec<f64>, Vec<[f64; 2]>, f64) {
    let nv = m.nv;
    let mut d = Data::new(m);
    kinegrad::kinematics::forward_kinematics(m, &m.params0, &m.qpos0, &mut d);
    kinegrad::kinematics::com_pos(m, &m.params0, &mut d);
    kinegrad::dynamics::crba::crba(m, &m.params0, &mut d);
    let mut qm = vec![0.0; nv * nv];
    kinegrad::dynamics::mass::to_dense(m, &d.qm, &mut qm);
    let mean = (0..nv).map(|i| qm[i * nv + i]).sum::<f64>() / nv as f64;
    let (mut l, mut start) = (qm, Vec::new());
    assert!(kinegrad::dynamics::chol::factor(&mut l, nv, &mut start));
    let minv_col = |rhs: &mut Vec<f64>| kinegrad::dynamics::chol::solve(&l, nv, &start, rhs);
    let mut dof = vec![0.0; nv];
    for (i, w) in dof.iter_mut().enumerate() {
        let mut e = vec![0.0; nv];
        e[i] = 1.0;
        minv_col(&mut e);
        *w = e[i];
    }
    // MuJoCo's definition: a ball joint's dofs (a free joint's translations, its rotations)
    // share the mean of their diagonal entries
    for j in 0..m.njnt {
        let a = m.jnt_dof_adr[j];
        let groups: &[usize] = match m.jnt_type[j] {
            kinegrad::joint::JointType::Ball => &[0],
            kinegrad::joint::JointType::Free => &[0, 3],
            _ => &[],
        };
        for &g in groups {
            let mean = dof[a + g..a + g + 3].iter().sum::<f64>() / 3.0;
            dof[a + g..a + g + 3].iter_mut().for_each(|x| *x = mean);
        }
    }
    let mut body = vec![[0.0; 2]; m.nbody];
    for b in 1..m.nbody {
        if d.body_dof_last[b] == usize::MAX {
            continue;
        }
        let mut jp = vec![Vec3::zeros(); nv];
        kinegrad::kinematics::add_point_jacobian(
            m,
            &d.body_dof_last,
            &d.cdof,
            b,
            &d.xipos[b],
            1.0,
            &mut jp,
        );
        for k in 0..3 {
            for part in 0..2 {
                let mut row = vec![0.0; nv];
                let mut dd = d.body_dof_last[b];
                while dd != usize::MAX {
                    row[dd] = if part == 0 {
                        jp[dd][k]
                    } else {
                        d.cdof[dd].ang[k]
                    };
                    dd = m.dof_parent[dd];
                }
                let mut x = row.clone();
                minv_col(&mut x);
                body[b][part] += row.iter().zip(&x).map(|(a, b)| a * b).sum::<f64>() / 3.0;
            }
        }
    }
    (dof, body, mean)
}

fn assert_matches_dense(m: &Model) {
    let (dof, body, mean) = dense_invweight0(m);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()));
    assert!(
        close(m.stat_meaninertia, mean),
        "{} vs {mean}",
        m.stat_meaninertia
    );
    for i in 0..m.nv {
        assert!(
            close(m.dof_invweight0[i], dof[i]),
            "dof {i}: {} vs {}",
            m.dof_invweight0[i],
            dof[i]
        );
    }
    for b in 0..m.nbody {
        for k in 0..2 {
            assert!(
                close(m.body_invweight0[b][k], body[b][k]),
                "body {b} part {k}: {} vs {}",
                m.body_invweight0[b][k],
                body[b][k]
            );
        }
    }
}

fn body(name: &str, parent: Option<usize>, pos: [f64; 3], joints: Vec<JointSpec>) -> BodySpec {
    let mut b = BodySpec::new(name, parent);
    b.pos = Vec3::new(pos[0], pos[1], pos[2]);
    b.quat = Quat::from_euler_angles(0.3, -0.2, 0.5);
    b.mass = 0.7;
    b.ipos = Vec3::new(0.05, -0.02, 0.1);
    b.inertia = Mat3::new(0.02, 0.001, 0.0, 0.001, 0.03, 0.002, 0.0, 0.002, 0.01);
    b.joints = joints;
    b.geoms
        .push(GeomSpec::new(GeomType::Sphere, Vec3::new(0.05, 0.0, 0.0)));
    b
}

fn hinge(name: &str, axis: [f64; 3]) -> JointSpec {
    let mut j = JointSpec::new(name, JointType::Hinge);
    j.axis = Vec3::new(axis[0], axis[1], axis[2]);
    j.pos = Vec3::new(0.01, 0.02, -0.03);
    j.armature = 0.01;
    j
}

#[test]
fn invweight0_of_a_branching_tree_matches_the_dense_mass_matrix() {
    // free base, a ball joint, a body with two hinges and a slide, a welded body, two branches
    let mut slide = JointSpec::new("s", JointType::Slide);
    slide.axis = Vec3::new(0.0, 1.0, 1.0);
    let bodies = vec![
        body(
            "base",
            None,
            [0.1, 0.2, 1.0],
            vec![JointSpec::new("free", JointType::Free)],
        ),
        body(
            "ball",
            Some(0),
            [0.2, 0.0, 0.0],
            vec![JointSpec::new("ball", JointType::Ball)],
        ),
        body(
            "two",
            Some(1),
            [0.0, 0.3, 0.0],
            vec![
                hinge("h1", [1.0, 0.0, 0.0]),
                hinge("h2", [0.0, 1.0, 0.2]),
                slide,
            ],
        ),
        body("welded", Some(2), [0.0, 0.0, 0.2], vec![]),
        body(
            "leaf",
            Some(3),
            [0.1, 0.0, 0.2],
            vec![hinge("h3", [0.0, 0.0, 1.0])],
        ),
        body(
            "branch",
            Some(0),
            [-0.2, 0.0, 0.0],
            vec![hinge("h4", [0.0, 1.0, 0.0])],
        ),
        body(
            "branch2",
            Some(5),
            [-0.2, 0.1, 0.0],
            vec![hinge("h5", [1.0, 1.0, 0.0])],
        ),
    ];
    let mut b = ModelBuilder::new();
    b.add_entity(
        EntitySpec {
            name: "tree".into(),
            bodies: bodies.clone(),
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::AsIs,
    );
    // a second entity welded to the world at its root, moving below
    let mut fixed = bodies;
    fixed[0].joints.clear();
    b.add_entity(
        EntitySpec {
            name: "fixed".into(),
            bodies: fixed,
            ..Default::default()
        },
        Pose {
            pos: Vec3::new(1.0, 0.0, 0.0),
            rot: Mat3::identity(),
        },
        BaseMode::AsIs,
    );
    let m = b.build().unwrap();
    assert_eq!(m.nv, 6 + 3 + 3 + 1 + 1 + 1 + (3 + 3 + 1 + 1 + 1));
    assert_matches_dense(&m);
}

fn chain_urdf(n: usize) -> String {
    let mut s = String::from("<robot name='chain'>\n");
    for i in 0..n {
        writeln!(
            s,
            "<link name='l{i}'><inertial><origin xyz='0 0 0.05'/><mass value='0.1'/>\
             <inertia ixx='1e-4' iyy='1e-4' izz='1e-5' ixy='0' ixz='0' iyz='0'/></inertial></link>"
        )
        .unwrap();
        if i > 0 {
            let axis = ["1 0 0", "0 1 0", "0 0 1"][i % 3];
            writeln!(
                s,
                "<joint name='j{i}' type='revolute'><parent link='l{}'/><child link='l{i}'/>\
                 <origin xyz='0 0 0.1' rpy='0.1 0 0'/><axis xyz='{axis}'/><limit lower='-1' upper='1'/></joint>",
                i - 1
            )
            .unwrap();
        }
    }
    s.push_str("</robot>\n");
    s
}

fn build_chain(n: usize) -> Model {
    let spec = urdf::load_str(&chain_urdf(n), Path::new("chain.urdf"), 1.0).unwrap();
    let mut b = ModelBuilder::new();
    b.add_entity(spec, Pose::identity(), BaseMode::Fixed);
    b.build().unwrap()
}

#[test]
fn invweight0_of_a_urdf_chain_matches_the_dense_mass_matrix() {
    assert_matches_dense(&build_chain(60));
}

/// Building was cubic in the links (a dense factorization of M and nv dense solves): 1,000
/// links took 11 s, 5,000 would take about half an hour. Now about linear.
#[test]
fn urdf_chain_of_5000_links_builds_without_cubic_cost() {
    let m = build_chain(5000);
    assert_eq!(m.nv, 4999);
    assert!(m.dof_invweight0.iter().all(|w| w.is_finite() && *w > 0.0));
    assert!(m.collision_pairs.is_empty());
}
