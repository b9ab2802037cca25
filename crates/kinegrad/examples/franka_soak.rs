//! Soak run of issue 16 item 3: a Franka with a floor under random PD targets within the joint
//! ranges, changed every `every` steps (seeded), for `steps` steps at dt 0.01. Prints a line per
//! target change and a summary: the deepest penetration, the most contacts, the largest excursion
//! of a joint past its range, and the fingers' positions against their targets at the end of each
//! target period. With `--dump FILE` it writes the targets (one line per change: step, then nv
//! targets) for the MuJoCo reference script to replay.
//! `cargo run --release --example franka_soak -- [file.xml] [steps] [every] [seed] [--dump FILE]`
//!
//! What it showed (scene_no_tendon.xml, 10k steps, every 50): MuJoCo jams the fingers on the same
//! targets as often (seed 4: 170 jammed periods here, 159 in MuJoCo; seed 8: 152 and 150). The
//! jam starts when the floor's friction drags a finger along its slide axis in one step (its
//! limit row does not exist yet: the joint is inside its range at the step's start) and pushes
//! it several cm past its limit into the other finger; the fingertip pads, which touch at q = 0,
//! then interpenetrate and their contacts (normals across the closing axis, friction along it)
//! push the fingers closed as hard as the limit rows push them open.

use kinegrad::{pipeline, Control, CtrlMode, Data, State};
use std::io::Write;
use std::path::PathBuf;

/// splitmix64: a small seeded generator, enough for random targets.
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn main() -> kinegrad::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let dump = args.iter().position(|a| a == "--dump").map(|i| {
        let f = args.remove(i + 1);
        args.remove(i);
        f
    });
    let file = args.first().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(".cache/assets/genesis/xml/franka_emika_panda/scene_no_tendon.xml")
    });
    let steps: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let every: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut model = kinegrad::model::mjcf::load_model(&file)?;
    model.opt.timestep = 0.01;
    let nv = model.nv;
    let mut state = State::new(&model);
    let mut control = Control::new(&model);
    control
        .mode
        .iter_mut()
        .for_each(|m| *m = CtrlMode::Position);
    let mut data = Data::new(&model);
    let mut carry = kinegrad::StepCarry::new(&model);
    let mut rng = Rng(seed);
    let mut out = dump.map(|f| std::fs::File::create(f).expect("dump file"));
    let (mut max_depth, mut max_con, mut max_excess) = (0.0f64, 0usize, 0.0f64);
    let fingers: Vec<usize> = (0..nv)
        .filter(|&d| model.jnt_name[model.dof_jnt[d]].starts_with("finger"))
        .collect();
    let mut stuck = 0;
    for t in 0..steps {
        if t % every == 0 {
            if t > 0 {
                // fingers at the end of the period: far from an open target means jammed
                let q: Vec<f64> = fingers.iter().map(|&d| state.q[d]).collect();
                let g: Vec<f64> = fingers.iter().map(|&d| control.target[d]).collect();
                let jam = fingers
                    .iter()
                    .any(|&d| control.target[d] - state.q[d] > 0.01 && state.q[d] < 0.002);
                stuck += jam as usize;
                println!(
                    "step {t}: fingers q {q:.4?} targets {g:.4?} contacts {}{}",
                    data.contacts.len(),
                    if jam { "  JAMMED" } else { "" }
                );
            }
            for d in 0..nv {
                let [lo, hi] = model.jnt_range[model.dof_jnt[d]];
                control.target[d] = lo + (hi - lo) * rng.uniform();
            }
            if let Some(f) = out.as_mut() {
                let row: Vec<String> = control.target.iter().map(|x| format!("{x:.17e}")).collect();
                writeln!(f, "{t} {}", row.join(" ")).unwrap();
            }
        }
        pipeline::step(
            &model,
            &model.params0,
            &mut state,
            &control,
            &mut carry,
            &mut data,
        )?;
        for c in &data.contacts {
            max_depth = max_depth.max(-c.dist);
        }
        max_con = max_con.max(data.contacts.len());
        for j in 0..model.njnt {
            let [lo, hi] = model.jnt_range[j];
            let q = state.q[model.jnt_qpos_adr[j]];
            if model.jnt_limited[j] {
                max_excess = max_excess.max(lo - q).max(q - hi);
            }
        }
    }
    println!(
        "{} steps: deepest penetration {:.2} mm, most contacts {max_con}, largest excursion past \
         a joint limit {:.4}, jammed periods {stuck}",
        steps,
        max_depth * 1e3,
        max_excess
    );
    Ok(())
}
