//! `Renderer`: the offscreen rasterizer of `kinegrad-render` bound to a built [`Sim`].
//!
//! Made on demand by the first camera of a scene, so a scene without cameras never pays for
//! it. Each call runs forward kinematics of the given configuration in its own scratch `Data`
//! (the simulator's envs are not touched) and draws one frame.

use crate::sim::Sim;
use crate::{guard, invalid};
use kinegrad::math::Vec3;
use kinegrad::{pipeline, Data, Model};
use kinegrad_render::{Camera, Frame, Outputs, RenderScene};
use numpy::ndarray::{Array2, Array3, Array4};
use numpy::{IntoPyArray, PyArray2, PyArray3, PyArray4, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use std::sync::Arc;

/// Offscreen renderer of one built model.
#[pyclass(module = "kinegrad._native")]
pub struct Renderer {
    model: Arc<Model>,
    scene: RenderScene,
    raster: kinegrad_render::Renderer,
    data: Data,
    frame: Frame,
}

type Images<'py> = (
    Option<Bound<'py, PyArray3<u8>>>,
    Option<Bound<'py, PyArray2<f32>>>,
    Option<Bound<'py, PyArray2<i32>>>,
    Option<Bound<'py, PyArray3<f32>>>,
);

#[allow(clippy::too_many_arguments)]
fn camera(
    pos: [f64; 3],
    lookat: [f64; 3],
    up: [f64; 3],
    fov: f64,
    width: usize,
    height: usize,
    near: f64,
    far: f64,
) -> PyResult<Camera> {
    let cam = Camera {
        pos: Vec3::from(pos),
        lookat: Vec3::from(lookat),
        up: Vec3::from(up),
        fovy_deg: fov,
        width,
        height,
        near,
        far,
    };
    cam.validate().map_err(invalid)?;
    Ok(cam)
}

impl Renderer {
    fn check_sim(&self, sim: &Sim, env: usize) -> PyResult<()> {
        if !Arc::ptr_eq(&self.model, &sim.inner.model) {
            return Err(invalid("sim: this renderer was made for another simulator"));
        }
        if env >= sim.inner.envs.len() {
            return Err(invalid(format!(
                "env_idx: {env} out of range for {} envs",
                sim.inner.envs.len()
            )));
        }
        Ok(())
    }

    /// Kinematics of `q` with env `env`'s parameters, then one frame into `self.frame`.
    fn draw(
        &mut self,
        sim: &Sim,
        env: usize,
        q: &[f64],
        cam: &Camera,
        out: Outputs,
    ) -> PyResult<()> {
        let m = &*self.model;
        if q.len() != m.nq {
            return Err(invalid(format!(
                "qpos: expected {} entries, got {}",
                m.nq,
                q.len()
            )));
        }
        if let Some(i) = q.iter().position(|x| !x.is_finite()) {
            return Err(invalid(format!("qpos: entry {i} is not finite")));
        }
        let mut q = q.to_vec();
        kinegrad::state::normalize_quaternions(m, &mut q);
        pipeline::kinematics(m, &sim.inner.envs[env].params, &q, &mut self.data);
        self.raster
            .render(
                &self.scene,
                &self.data.geom_xpos,
                &self.data.geom_xmat,
                cam,
                out,
                &mut self.frame,
            )
            .map_err(invalid)
    }
}

#[pymethods]
impl Renderer {
    /// Tessellate the visible geoms of `sim`'s model (colours from the model files).
    #[new]
    fn new(sim: &Sim) -> PyResult<Self> {
        guard(|| {
            let model = sim.inner.model.clone();
            Ok(Self {
                scene: RenderScene::new(&model),
                data: Data::new(&model),
                model,
                raster: kinegrad_render::Renderer::new(),
                frame: Frame::default(),
            })
        })
    }

    /// Geoms that are drawn (visual geoms, and colliding geoms of bodies without visual ones).
    fn drawn_geoms(&self) -> Vec<usize> {
        self.scene.drawables.iter().map(|d| d.geom).collect()
    }

    /// Triangles drawn per frame.
    fn triangle_count(&self) -> usize {
        self.scene.triangle_count()
    }

    /// The colour of every geom, (ngeom, 4) float32 in 0..1 (the model's unless changed).
    fn geom_rgba<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        let mut out = Array2::<f32>::zeros((self.model.ngeom, 4));
        for (g, c) in self.model.geom_rgba.iter().enumerate() {
            for j in 0..4 {
                out[[g, j]] = c[j];
            }
        }
        for d in &self.scene.drawables {
            for j in 0..4 {
                out[[d.geom, j]] = d.rgba[j];
            }
        }
        out.into_pyarray(py)
    }

    /// Set geom colours from an (ngeom, 4) float32 array in 0..1 (alpha 0 hides a geom).
    fn set_geom_rgba(&mut self, rgba: PyReadonlyArray2<'_, f32>) -> PyResult<()> {
        let a = rgba.as_array();
        if a.shape() != [self.model.ngeom, 4] {
            return Err(invalid(format!(
                "rgba: expected shape ({}, 4), got {:?}",
                self.model.ngeom,
                a.shape()
            )));
        }
        if a.iter().any(|x| !(0.0..=1.0).contains(x)) {
            return Err(invalid("rgba: components must be in [0, 1]"));
        }
        for g in 0..self.model.ngeom {
            self.scene
                .set_geom_rgba(g, [a[[g, 0]], a[[g, 1]], a[[g, 2]], a[[g, 3]]]);
        }
        Ok(())
    }

    /// Background colour (r, g, b) in 0..1.
    fn set_background(&mut self, rgb: [f32; 3]) -> PyResult<()> {
        if rgb.iter().any(|x| !(0.0..=1.0).contains(x)) {
            return Err(invalid(format!(
                "background_color: components must be in [0, 1], got {rgb:?}"
            )));
        }
        self.scene.background = rgb;
        Ok(())
    }

    /// Render configuration `qpos` (nq) with env `env`'s parameters. Returns (rgb (H, W, 3)
    /// uint8, depth (H, W) float32 metres along the axis, seg (H, W) int32 geom index or -1,
    /// normal (H, W, 3) float32 world frame), each None unless requested.
    #[pyo3(signature = (
        sim, qpos, pos, lookat, up, fov, width, height, near=0.05, far=100.0,
        rgb=true, depth=false, seg=false, normal=false, env=0
    ))]
    #[allow(clippy::too_many_arguments)]
    fn render<'py>(
        &mut self,
        py: Python<'py>,
        sim: &Sim,
        qpos: PyReadonlyArray1<'py, f64>,
        pos: [f64; 3],
        lookat: [f64; 3],
        up: [f64; 3],
        fov: f64,
        width: usize,
        height: usize,
        near: f64,
        far: f64,
        rgb: bool,
        depth: bool,
        seg: bool,
        normal: bool,
        env: usize,
    ) -> PyResult<Images<'py>> {
        let cam = camera(pos, lookat, up, fov, width, height, near, far)?;
        self.check_sim(sim, env)?;
        let q = qpos
            .as_slice()
            .map_err(|_| invalid("qpos: expected a contiguous float64 array"))?
            .to_vec();
        let out = Outputs {
            rgb,
            depth,
            seg,
            normal,
        };
        py.detach(|| guard(|| self.draw(sim, env, &q, &cam, out)))?;
        let f = &self.frame;
        let (h, w) = (height, width);
        Ok((
            rgb.then(|| {
                Array3::from_shape_vec((h, w, 3), f.rgb.clone())
                    .expect("shape")
                    .into_pyarray(py)
            }),
            depth.then(|| {
                Array2::from_shape_vec((h, w), f.depth.clone())
                    .expect("shape")
                    .into_pyarray(py)
            }),
            seg.then(|| {
                Array2::from_shape_vec((h, w), f.seg.clone())
                    .expect("shape")
                    .into_pyarray(py)
            }),
            normal.then(|| {
                Array3::from_shape_vec((h, w, 3), f.normal.clone())
                    .expect("shape")
                    .into_pyarray(py)
            }),
        ))
    }

    /// RGB frames of a sequence of configurations `qpos` (T, nq) through one camera:
    /// (T, H, W, 3) uint8. The GIL is released for the whole sequence.
    #[pyo3(signature = (sim, qpos, pos, lookat, up, fov, width, height, near=0.05, far=100.0, env=0))]
    #[allow(clippy::too_many_arguments)]
    fn render_rgb_sequence<'py>(
        &mut self,
        py: Python<'py>,
        sim: &Sim,
        qpos: PyReadonlyArray2<'py, f64>,
        pos: [f64; 3],
        lookat: [f64; 3],
        up: [f64; 3],
        fov: f64,
        width: usize,
        height: usize,
        near: f64,
        far: f64,
        env: usize,
    ) -> PyResult<Bound<'py, PyArray4<u8>>> {
        let cam = camera(pos, lookat, up, fov, width, height, near, far)?;
        self.check_sim(sim, env)?;
        let qs = qpos.as_array().to_owned();
        if qs.ncols() != self.model.nq {
            return Err(invalid(format!(
                "qpos: expected shape (T, {}), got {:?}",
                self.model.nq,
                qs.shape()
            )));
        }
        let t = qs.nrows();
        let frame_len = height * width * 3;
        let mut all = vec![0u8; t * frame_len];
        let out = Outputs {
            rgb: true,
            depth: false,
            seg: false,
            normal: false,
        };
        py.detach(|| {
            guard(|| {
                for (k, row) in qs.rows().into_iter().enumerate() {
                    let q: Vec<f64> = row.iter().copied().collect();
                    self.draw(sim, env, &q, &cam, out)
                        .map_err(|e| invalid(format!("frame {k}: {e}")))?;
                    all[k * frame_len..(k + 1) * frame_len].copy_from_slice(&self.frame.rgb);
                }
                Ok(())
            })
        })?;
        Ok(Array4::from_shape_vec((t, height, width, 3), all)
            .expect("shape")
            .into_pyarray(py))
    }
}
