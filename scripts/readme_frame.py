"""Render the README's camera image (docs/images/franka_camera.png): the Menagerie Franka
reaching over a few objects, from kinegrad's CPU renderer. Run after `make setup`:
`.venv/bin/python scripts/readme_frame.py`."""

from pathlib import Path

import torch
from PIL import Image

import kinegrad as gs

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "images" / "franka_camera.png"


def main() -> None:
    gs.init(precision="64", logging_level="warning")
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.01, substeps=2))
    scene.add_entity(gs.morphs.Plane())
    franka = scene.add_entity(gs.morphs.MJCF(file="xml/franka_emika_panda/panda_no_tendon.xml"))
    scene.add_entity(gs.morphs.Box(pos=(0.45, -0.4, 0.05), size=(0.1, 0.1, 0.1)), surface=gs.surfaces.Default(color=(0.15, 0.45, 0.9)))
    scene.add_entity(gs.morphs.Sphere(pos=(0.75, -0.05, 0.06), radius=0.06), surface=gs.surfaces.Default(color=(0.9, 0.15, 0.1)))
    scene.add_entity(gs.morphs.Cylinder(pos=(0.3, 0.45, 0.08), radius=0.05, height=0.16), surface=gs.surfaces.Default(color=(0.95, 0.7, 0.1)))
    cam = scene.add_camera(res=(640, 400), pos=(1.75, -1.2, 1.05), lookat=(0.3, 0.0, 0.3), fov=38)
    scene.build()
    pose = torch.tensor([0.6, 0.35, 0.0, -2.0, 0.0, 2.4, 1.4, 0.04, 0.04], dtype=torch.float64)
    franka.set_dofs_position(pose)
    franka.control_dofs_position(pose)
    for _ in range(30):  # let the objects settle on the ground
        scene.step()
    rgb = cam.render()[0]
    Image.fromarray(rgb).quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
