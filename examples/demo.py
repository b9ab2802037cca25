"""kinegrad showcase: a Franka Panda (MuJoCo Menagerie MJCF) reaches a pose under PD control
while a box, a ball and a cylinder fall onto the floor. Prints what happened.

Run: `make demo` (or `.venv/bin/python examples/demo.py` after `make setup`).
"""

import time

import torch

import kinegrad as gs


def main():
    gs.init(precision="64", logging_level="warning")
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=0.01, substeps=2),
        rigid_options=gs.options.RigidOptions(),
        show_viewer=False,
    )
    scene.add_entity(gs.morphs.Plane())
    franka = scene.add_entity(gs.morphs.MJCF(file="xml/franka_emika_panda/panda_no_tendon.xml"))
    box = scene.add_entity(gs.morphs.Box(size=(0.06, 0.06, 0.06), pos=(0.55, -0.25, 0.6)), material=gs.materials.Rigid(rho=500.0))
    ball = scene.add_entity(gs.morphs.Sphere(radius=0.04, pos=(0.5, 0.3, 0.9)), material=gs.materials.Rigid(rho=300.0, friction=0.8))
    can = scene.add_entity(gs.morphs.Cylinder(radius=0.035, height=0.12, pos=(0.3, 0.45, 0.4)))
    scene.build()

    arm = [franka.get_joint(f"joint{i}").dofs_idx_local[0] for i in range(1, 8)]
    hand = franka.get_link("hand")
    target = torch.tensor([0.4, 0.5, -0.2, -1.9, 0.1, 2.3, 0.9], dtype=torch.float64)
    print(f"loaded: Franka ({franka.n_dofs} dofs, {franka.n_links} links), box, ball, cylinder, floor")
    print(f"PD gains from the file's actuators: kp = {franka.get_dofs_kp(arm).tolist()}")
    franka.control_dofs_position(target, arm)

    steps = 300
    t0 = time.perf_counter()
    for i in range(1, steps + 1):
        scene.step()
        if i % 60 == 0:
            err = (franka.get_dofs_position(arm) - target).abs().max().item()
            p = hand.get_pos().tolist()
            print(
                f"t={i * scene.dt:4.1f}s  max joint error {err:7.4f} rad  hand at ({p[0]:+.3f}, {p[1]:+.3f}, {p[2]:+.3f})"
                f"  box z={box.get_pos()[2].item():.3f}  ball z={ball.get_pos()[2].item():.3f}  cylinder z={can.get_pos()[2].item():.3f}"
            )
    wall = time.perf_counter() - t0

    err = (franka.get_dofs_position(arm) - target).abs().max().item()
    print("\nwhat happened:")
    print(f"- the arm reached its target pose: max joint error {err:.4f} rad after {steps * scene.dt:.1f} s")
    for name, ent, rest in (("box", box, 0.03), ("ball", ball, 0.04), ("cylinder", can, None)):
        z = ent.get_pos()[2].item()
        speed = ent.get_vel().norm().item()
        n = int(ent.get_contacts()["valid_mask"].sum()) if "valid_mask" in ent.get_contacts() else len(ent.get_contacts()["geom_a"])
        extra = f" (resting height {rest:.3f} m)" if rest else ""
        print(f"- the {name} fell and settled at z = {z:.3f} m{extra}, speed {speed:.4f} m/s, {n} contact(s)")
    print(f"- {steps} steps ({2 * steps} substeps) of {scene.dt * 1000:.0f} ms simulated in {wall:.2f} s wall time, through the Python API")


if __name__ == "__main__":
    main()
