//! Frames of configurations: forward kinematics of a `qpos` with an env's parameters, then
//! one frame, for the bindings that render what the simulator holds or a trajectory.

use crate::{Camera, Frame, Outputs, RenderScene, Renderer};
use kinegrad::{pipeline, Data, Model, Params};

impl Renderer {
    /// Draw configuration `q` (nq; quaternion blocks normalized here) of `model` with `params`
    /// into `frame`, the kinematics computed in `data`. An error names a wrong-sized or
    /// non-finite `qpos` or a bad camera.
    #[allow(clippy::too_many_arguments)]
    pub fn render_configuration(
        &mut self,
        scene: &RenderScene,
        model: &Model,
        params: &Params,
        q: &[f64],
        data: &mut Data,
        cam: &Camera,
        out: Outputs,
        frame: &mut Frame,
    ) -> Result<(), String> {
        if q.len() != model.nq {
            return Err(format!(
                "qpos: expected {} entries, got {}",
                model.nq,
                q.len()
            ));
        }
        if let Some(i) = q.iter().position(|x| !x.is_finite()) {
            return Err(format!("qpos: entry {i} is not finite"));
        }
        let mut q = q.to_vec();
        kinegrad::state::normalize_quaternions(model, &mut q);
        pipeline::kinematics(model, params, &q, data);
        self.render(scene, &data.geom_xpos, &data.geom_xmat, cam, out, frame)
    }

    /// RGB frames (T * H * W * 3) of the configurations `qs` (T * nq), as
    /// [`Renderer::render_configuration`] draws them; an error names the frame.
    #[allow(clippy::too_many_arguments)]
    pub fn render_rgb_sequence(
        &mut self,
        scene: &RenderScene,
        model: &Model,
        params: &Params,
        qs: &[f64],
        data: &mut Data,
        cam: &Camera,
        frame: &mut Frame,
    ) -> Result<Vec<u8>, String> {
        let out = Outputs {
            rgb: true,
            depth: false,
            seg: false,
            normal: false,
        };
        let mut all = Vec::with_capacity(qs.len() / model.nq.max(1) * cam.width * cam.height * 3);
        for (k, q) in qs.chunks(model.nq.max(1)).enumerate() {
            self.render_configuration(scene, model, params, q, data, cam, out, frame)
                .map_err(|e| format!("frame {k}: {e}"))?;
            all.extend_from_slice(&frame.rgb);
        }
        Ok(all)
    }
}
