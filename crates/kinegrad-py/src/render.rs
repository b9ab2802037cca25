//! `Renderer`: the offscreen rasterizer of `kinegrad-render` bound to a built [`Sim`].
//!
//! Made on demand by the first camera of a scene, so a scene without cameras never pays for
//! it. Each call runs forward kinematics of the given configuration in the renderer's own
//! scratch `Data` (the simulator's envs are not touched) and draws one frame.

use crate::convert::values;
use crate::sim::Sim;
use crate::{guard, invalid};
use kinegrad::math::Vec3;
use kinegrad::{Data, Model};
use kinegrad_render::{Camera, Frame, Outputs, RenderScene, TriMesh};
use numpy::ndarray::{Array2, Array3, Array4};
use numpy::PyUntypedArrayMethods;
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

/// A camera as Python gives it: (pos, lookat, up, fov (degrees), width, height, near, far).
type Cam = ([f64; 3], [f64; 3], [f64; 3], f64, usize, usize, f64, f64);

/// (rgb, depth, seg, normal), each None unless requested.
type Images<'py> = (
    Option<Bound<'py, PyArray3<u8>>>,
    Option<Bound<'py, PyArray2<f32>>>,
    Option<Bound<'py, PyArray2<i32>>>,
    Option<Bound<'py, PyArray3<f32>>>,
);

impl Renderer {
    /// The camera `c`, checked, and env `env`'s parameters of `sim` (made for this renderer).
    fn check<'s>(
        &self,
        sim: &'s Sim,
        env: usize,
        c: Cam,
    ) -> PyResult<(Camera, &'s kinegrad::Params)> {
        let (pos, lookat, up, fovy_deg, width, height, near, far) = c;
        let (pos, lookat, up) = (Vec3::from(pos), Vec3::from(lookat), Vec3::from(up));
        let cam = Camera {
            pos,
            lookat,
            up,
            fovy_deg,
            width,
            height,
            near,
            far,
        };
        cam.validate().map_err(invalid)?;
        if !Arc::ptr_eq(&self.model, &sim.inner.model) {
            return Err(invalid("sim: this renderer was made for another simulator"));
        }
        let n = sim.inner.n_envs();
        let e = sim
            .inner
            .envs
            .get(env)
            .ok_or_else(|| invalid(format!("env_idx: {env} out of range for {n} envs")))?;
        Ok((cam, &e.params))
    }
}

#[pymethods]
impl Renderer {
    /// Tessellate the visible geoms of `sim`'s model (colours from the model files).
    #[new]
    fn new(sim: &Sim) -> PyResult<Self> {
        guard(|| {
            let model = sim.inner.model.clone();
            let (scene, data) = (RenderScene::new(&model), Data::new(&model));
            let (raster, frame) = (kinegrad_render::Renderer::new(), Frame::default());
            Ok(Self {
                model,
                scene,
                raster,
                data,
                frame,
            })
        })
    }

    /// Geoms that are drawn (visual geoms, and colliding geoms of bodies without visual ones).
    fn drawn_geoms(&self) -> Vec<usize> {
        self.scene.geom_drawables().iter().map(|d| d.geom).collect()
    }

    /// Replace the debug shapes drawn with the model: `items` of (kind, size, pos, rot, rgba)
    /// with kind `sphere` (size[0] the radius), `capsule` or `cylinder` (radius, half length
    /// along the local z), `box` (half extents); `pos` (3) and `rot` (9, row-major) their world
    /// pose; `rgba` in 0..1.
    #[allow(clippy::type_complexity)]
    fn set_debug(
        &mut self,
        items: Vec<(String, [f64; 3], [f64; 3], [f64; 9], [f32; 4])>,
    ) -> PyResult<()> {
        let mut shapes = Vec::with_capacity(items.len());
        for (i, (kind, size, pos, rot, rgba)) in items.into_iter().enumerate() {
            if !size.iter().chain(&pos).chain(&rot).all(|x| x.is_finite())
                || !rgba.iter().all(|c| (0.0..=1.0).contains(c))
            {
                return Err(invalid(format!(
                    "debug item {i}: not finite, or a colour outside [0, 1]"
                )));
            }
            let shape = match kind.as_str() {
                "sphere" => TriMesh::sphere(size[0]),
                "capsule" => TriMesh::capsule(size[0], size[1]),
                "cylinder" => TriMesh::cylinder(size[0], size[1]),
                "box" => TriMesh::cuboid(&kinegrad::math::Vec3::from(size)),
                other => return Err(invalid(format!("debug item {i}: unknown kind '{other}'"))),
            };
            shapes.push(kinegrad_render::DebugShape {
                shape,
                pos: kinegrad::math::Vec3::from(pos),
                rot: kinegrad::math::Mat3::from_row_slice(&rot),
                rgba,
            });
        }
        self.scene.set_debug(shapes);
        Ok(())
    }

    /// Triangles drawn per frame.
    fn triangle_count(&self) -> usize {
        self.scene.triangle_count()
    }

    /// The colour of every geom, (ngeom, 4) float32 in 0..1 (the model's unless changed).
    fn geom_rgba<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        let mut rgba = self.model.geom_rgba.clone();
        for d in self.scene.geom_drawables() {
            rgba[d.geom] = d.rgba;
        }
        Array2::from_shape_vec((rgba.len(), 4), rgba.concat())
            .expect("shape")
            .into_pyarray(py)
    }

    /// Set geom colours from an (ngeom, 4) float32 array in 0..1 (alpha 0 hides a geom).
    fn set_geom_rgba(&mut self, rgba: PyReadonlyArray2<'_, f32>) -> PyResult<()> {
        let a = values(&rgba, "rgba", &[self.model.ngeom, 4])?;
        if a.iter().any(|x| !(0.0..=1.0).contains(x)) {
            return Err(invalid("rgba: components must be in [0, 1]"));
        }
        for (g, c) in a.chunks(4).enumerate() {
            self.scene.set_geom_rgba(g, [c[0], c[1], c[2], c[3]]);
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

    /// Render configuration `qpos` (nq) with env `env`'s parameters through camera `cam`.
    /// Returns (rgb (H, W, 3) uint8, depth (H, W) float32 metres along the axis, seg (H, W)
    /// int32 geom index or -1, normal (H, W, 3) float32 world frame), each None unless requested.
    #[pyo3(signature = (sim, qpos, cam, rgb=true, depth=false, seg=false, normal=false, env=0))]
    #[allow(clippy::too_many_arguments)]
    fn render<'py>(
        &mut self,
        py: Python<'py>,
        sim: &Sim,
        qpos: PyReadonlyArray1<'py, f64>,
        cam: Cam,
        rgb: bool,
        depth: bool,
        seg: bool,
        normal: bool,
        env: usize,
    ) -> PyResult<Images<'py>> {
        let (cam, params) = self.check(sim, env, cam)?;
        let q = qpos
            .as_slice()
            .map_err(|_| invalid("qpos: expected a contiguous float64 array"))?;
        let out = Outputs {
            rgb,
            depth,
            seg,
            normal,
        };
        let Self {
            scene,
            raster,
            data,
            frame,
            model,
        } = self;
        py.detach(|| {
            guard(|| {
                raster
                    .render_configuration(scene, model, params, q, data, &cam, out, frame)
                    .map_err(invalid)
            })
        })?;
        let (f, h, w) = (&self.frame, cam.height, cam.width);
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

    /// RGB frames of a sequence of configurations `qpos` (T, nq) through camera `cam`:
    /// (T, H, W, 3) uint8. The GIL is released for the whole sequence.
    #[pyo3(signature = (sim, qpos, cam, env=0))]
    fn render_rgb_sequence<'py>(
        &mut self,
        py: Python<'py>,
        sim: &Sim,
        qpos: PyReadonlyArray2<'py, f64>,
        cam: Cam,
        env: usize,
    ) -> PyResult<Bound<'py, PyArray4<u8>>> {
        let (cam, params) = self.check(sim, env, cam)?;
        let t = qpos.shape()[0];
        let qs = values(&qpos, "qpos", &[t, self.model.nq]).map_err(|_| {
            invalid(format!(
                "qpos: expected shape (T, {}), got {:?}",
                self.model.nq,
                qpos.shape()
            ))
        })?;
        let Self {
            scene,
            raster,
            data,
            frame,
            model,
        } = self;
        let all = py.detach(|| {
            guard(|| {
                raster
                    .render_rgb_sequence(scene, model, params, &qs, data, &cam, frame)
                    .map_err(invalid)
            })
        })?;
        Ok(Array4::from_shape_vec((t, cam.height, cam.width, 3), all)
            .expect("shape")
            .into_pyarray(py))
    }
}
