//! The rasterizer: triangles to a visibility buffer, then one shading pass over the pixels.
//!
//! 1. Setup (parallel over drawables): vertices to the camera frame, triangles clipped against
//!    the near plane, projected, oriented counter-clockwise on screen, their pixel bounding box
//!    cut to the image. Whole drawables outside the view (bounding sphere) are skipped.
//! 2. Raster (parallel over bands of rows): a pixel is covered when its centre is inside the
//!    triangle (edge functions, ties broken by a top-left style rule so that triangles sharing
//!    an edge cover each pixel once); the depth test keeps the largest 1/z, which is affine in
//!    screen space, so depth is exact for planar triangles (perspective correct). The winner
//!    stores its triangle id and two screen-space barycentric weights (made perspective-correct
//!    by the shading pass, for the visible pixels only).
//! 3. Shading (parallel over rows): each covered pixel interpolates the normal (and, for ground
//!    planes, the surface point for the checker pattern) from its triangle and is lit by an
//!    ambient term, a headlight and a fixed key light from above (Lambert, two-sided).

use crate::camera::Camera;
use crate::scene::{RenderScene, Surface};
use crate::tess::TriMesh;
use kinegrad::math::{Mat3, Vec3};
use rayon::prelude::*;

/// Which images to produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outputs {
    /// Colour image.
    pub rgb: bool,
    /// Depth along the camera axis.
    pub depth: bool,
    /// Geom index per pixel.
    pub seg: bool,
    /// World-frame surface normal per pixel.
    pub normal: bool,
}

impl Outputs {
    /// Every image.
    pub const ALL: Outputs = Outputs {
        rgb: true,
        depth: true,
        seg: true,
        normal: true,
    };
}

/// Rendered images, row-major from the top-left pixel. Buffers not requested are empty.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    /// Width (pixels).
    pub width: usize,
    /// Height (pixels).
    pub height: usize,
    /// RGB, 3 bytes per pixel. (height * width * 3)
    pub rgb: Vec<u8>,
    /// Distance along the camera axis (m); the camera's `far` where nothing is hit. (height * width)
    pub depth: Vec<f32>,
    /// Index of the geom seen, -1 for the background. (height * width)
    pub seg: Vec<i32>,
    /// Unit surface normal (world frame) facing the camera; zero for the background. (height * width * 3)
    pub normal: Vec<f32>,
}

/// Light: ambient, headlight (from the camera) and key light weights.
const AMBIENT: f64 = 0.3;
const HEADLIGHT: f64 = 0.4;
const KEYLIGHT: f64 = 0.4;
/// Direction towards the key light (world frame, normalized at use).
const KEY_DIR: [f64; 3] = [0.4, 0.25, 1.0];
/// Brightness of the dark checker cells relative to the light ones.
const CHECKER_DARK: f64 = 0.7;

const NO_TRI: u64 = u64::MAX;

/// A triangle after setup: screen positions (x right, y down, pixels), 1/z, and its pixel box.
#[derive(Clone, Copy, Debug)]
struct ScreenTri {
    /// Vertex indices into the drawable's per-frame vertex arrays.
    v: [u32; 3],
    x: [f32; 3],
    y: [f32; 3],
    iz: [f32; 3],
    /// Inclusive pixel bounds: x0, x1, y0, y1.
    bbox: [u16; 4],
}

/// Per-drawable scratch of one frame.
#[derive(Clone, Debug, Default)]
struct DrawBuf {
    /// Camera-frame vertex positions: the shape's vertices, then those made by clipping.
    cam: Vec<[f32; 3]>,
    /// Geom-frame normals of the vertices made by clipping.
    extra_nrm: Vec<[f32; 3]>,
    /// Screen x, y and 1/z of each vertex (NaN in front of the near plane).
    proj: Vec<[f32; 3]>,
    tris: Vec<ScreenTri>,
    /// Rows touched by any triangle (inclusive), or (1, 0) when none.
    rows: (u16, u16),
    /// The quad drawn for a ground plane this frame.
    plane: TriMesh,
    /// Geom pose (world) this frame.
    rot: Mat3,
    pos: Vec3,
}

/// Reusable scratch: render many frames of one [`RenderScene`] without reallocating.
#[derive(Debug, Default)]
pub struct Renderer {
    /// Seconds spent so far in setup, raster and shading (summed over frames).
    pub phase_seconds: [f64; 3],
    bufs: Vec<DrawBuf>,
    inv_z: Vec<f32>,
    ids: Vec<u64>,
    lam: Vec<[f32; 2]>,
}

/// Projection constants.
#[derive(Clone, Copy)]
struct Proj {
    f: f64,
    cx: f64,
    cy: f64,
    near: f64,
    far: f64,
    w: usize,
    h: usize,
}

impl Proj {
    #[inline]
    fn project(&self, p: [f32; 3]) -> [f32; 3] {
        let z = p[2] as f64;
        if z < self.near {
            return [f32::NAN; 3];
        }
        let iz = 1.0 / z;
        [
            (self.cx + self.f * p[0] as f64 * iz) as f32,
            (self.cy - self.f * p[1] as f64 * iz) as f32,
            iz as f32,
        ]
    }
}

/// The three edge functions of a counter-clockwise (positive area) screen triangle. Edge k runs
/// from vertex k+1 to vertex k+2 and its function is proportional to the barycentric weight of
/// vertex k. Each edge is evaluated from its endpoints taken in a canonical order (then negated
/// if needed), so two triangles sharing an edge get exactly opposite values on it: with the
/// tie rule below every pixel centre on a shared edge is drawn by exactly one of them (no cracks,
/// no double coverage). From f32 vertex coordinates the f64 evaluation is correctly rounded,
/// hence its sign is exact.
#[derive(Clone, Copy, Debug)]
struct Edges {
    ax: [f64; 3],
    ay: [f64; 3],
    dx: [f64; 3],
    dy: [f64; 3],
    sign: [f64; 3],
    /// Smallest edge value inside: 0 when pixel centres exactly on the edge belong to this
    /// triangle, else the smallest positive double (so `e >= min` means `e > 0`).
    min: [f64; 3],
}

impl Edges {
    fn new(x: &[f64; 3], y: &[f64; 3]) -> Self {
        let mut e = Edges {
            ax: [0.0; 3],
            ay: [0.0; 3],
            dx: [0.0; 3],
            dy: [0.0; 3],
            sign: [1.0; 3],
            min: [0.0; 3],
        };
        for k in 0..3 {
            let (a, b) = ((k + 1) % 3, (k + 2) % 3);
            let (dxo, dyo) = (x[b] - x[a], y[b] - y[a]);
            // a tie belongs to the triangle on one fixed side of the (undirected) edge
            let incl = dyo > 0.0 || (dyo == 0.0 && dxo < 0.0);
            e.min[k] = if incl { 0.0 } else { f64::from_bits(1) };
            let (a, b, sign) = if (y[a], x[a]) <= (y[b], x[b]) {
                (a, b, 1.0)
            } else {
                (b, a, -1.0)
            };
            e.ax[k] = x[a];
            e.ay[k] = y[a];
            e.dx[k] = x[b] - x[a];
            e.dy[k] = y[b] - y[a];
            e.sign[k] = sign;
        }
        e
    }

    #[inline]
    fn eval(&self, k: usize, px: f64, py: f64) -> f64 {
        self.sign[k] * (self.dx[k] * (py - self.ay[k]) - self.dy[k] * (px - self.ax[k]))
    }

    /// Edge values at a pixel centre if it is covered.
    #[inline]
    fn covers(&self, px: f64, py: f64) -> Option<[f64; 3]> {
        let e = [
            self.eval(0, px, py),
            self.eval(1, px, py),
            self.eval(2, px, py),
        ];
        (e[0] >= self.min[0] && e[1] >= self.min[1] && e[2] >= self.min[2]).then_some(e)
    }

    /// Pixel columns of row centre `py` that may be covered (a superset, by one pixel), within
    /// [x0, x1]; None when the row misses the triangle.
    #[inline]
    fn span(&self, py: f64, x0: usize, x1: usize) -> Option<(usize, usize)> {
        let (mut lo, mut hi) = (x0 as f64, x1 as f64);
        for k in 0..3 {
            // E(px) = a px + c
            let a = -self.sign[k] * self.dy[k];
            let c = self.eval(k, 0.0, py);
            if a > 0.0 {
                lo = lo.max(fast_floor(-c / a - 0.5));
            } else if a < 0.0 {
                hi = hi.min(fast_floor(-c / a - 0.5) + 1.0);
            } else if c < 0.0 {
                return None;
            }
        }
        (lo <= hi).then_some((lo as usize, hi as usize))
    }
}

/// `floor` without a libm call or a saturating float to integer conversion: adding and
/// subtracting 1.5 * 2^52 rounds to the nearest integer (|x| < 2^51; larger values are clamped,
/// callers clamp the result to the image anyway).
#[inline]
fn fast_floor(x: f64) -> f64 {
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let x = x.clamp(-1.0e15, 1.0e15);
    let r = (x + ROUND) - ROUND;
    if r > x {
        r - 1.0
    } else {
        r
    }
}

impl DrawBuf {
    /// Push a triangle of vertex indices `v` (projected), if it covers any pixel centre (and,
    /// with `cull`, faces the camera).
    fn emit(&mut self, mut v: [u32; 3], p: &Proj, cull: bool) {
        let mut q = v.map(|i| self.proj[i as usize]);
        let area = (q[1][0] as f64 - q[0][0] as f64) * (q[2][1] as f64 - q[0][1] as f64)
            - (q[1][1] as f64 - q[0][1] as f64) * (q[2][0] as f64 - q[0][0] as f64);
        if !(area.abs() > 0.0) {
            return; // degenerate or NaN
        }
        // a front face (counter-clockwise seen from outside) has negative area on the y-down screen
        if cull && area > 0.0 {
            return;
        }
        if area < 0.0 {
            v.swap(1, 2);
            q.swap(1, 2);
        }
        let (mut xlo, mut xhi, mut ylo, mut yhi) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for c in &q {
            xlo = xlo.min(c[0] as f64);
            xhi = xhi.max(c[0] as f64);
            ylo = ylo.min(c[1] as f64);
            yhi = yhi.max(c[1] as f64);
        }
        // pixel i has its centre at i + 0.5
        let x0 = (-fast_floor(0.5 - xlo)).max(0.0);
        let x1 = fast_floor(xhi - 0.5).min(p.w as f64 - 1.0);
        let y0 = (-fast_floor(0.5 - ylo)).max(0.0);
        let y1 = fast_floor(yhi - 0.5).min(p.h as f64 - 1.0);
        if !(x0 <= x1 && y0 <= y1) {
            return;
        }
        let bbox = [x0 as u16, x1 as u16, y0 as u16, y1 as u16];
        self.rows = (self.rows.0.min(bbox[2]), self.rows.1.max(bbox[3]));
        self.tris.push(ScreenTri {
            v,
            x: q.map(|c| c[0]),
            y: q.map(|c| c[1]),
            iz: q.map(|c| c[2]),
            bbox,
        });
    }

    /// Add a vertex made by clipping (camera position, geom-frame normal); returns its index.
    fn push_clip_vertex(&mut self, cam: [f32; 3], nrm: [f32; 3], p: &Proj) -> u32 {
        self.cam.push(cam);
        self.extra_nrm.push(nrm);
        self.proj.push(p.project(cam));
        (self.cam.len() - 1) as u32
    }

    /// Set up every triangle of `shape` placed by (rot_cg, t_cg) (geom to camera frame).
    #[inline(never)]
    fn setup(&mut self, shape: &TriMesh, rot_cg: &Mat3, t_cg: &Vec3, p: &Proj) {
        let r = rot_cg.map(|x| x as f32);
        let t = t_cg.map(|x| x as f32);
        self.cam.clear();
        self.extra_nrm.clear();
        self.proj.clear();
        self.tris.clear();
        self.rows = (u16::MAX, 0);
        self.cam.extend(shape.pos.iter().map(|v| {
            [
                r[(0, 0)] * v[0] + r[(0, 1)] * v[1] + r[(0, 2)] * v[2] + t[0],
                r[(1, 0)] * v[0] + r[(1, 1)] * v[1] + r[(1, 2)] * v[2] + t[1],
                r[(2, 0)] * v[0] + r[(2, 1)] * v[1] + r[(2, 2)] * v[2] + t[2],
            ]
        }));
        self.proj.extend(self.cam.iter().map(|&c| p.project(c)));
        let (near, far) = (p.near as f32, p.far as f32);
        let nv = shape.pos.len();
        for tri in &shape.tri {
            let z = tri.map(|i| self.cam[i as usize][2]);
            if z.iter().all(|&zi| zi < near) || z.iter().all(|&zi| zi > far) {
                continue;
            }
            if z.iter().all(|&zi| zi >= near) {
                self.emit(*tri, p, shape.closed);
                continue;
            }
            // clip the polygon against z >= near (Sutherland-Hodgman, one plane)
            let mut poly: [u32; 4] = [0; 4];
            let mut n = 0;
            for k in 0..3 {
                let (a, b) = (tri[k], tri[(k + 1) % 3]);
                let (za, zb) = (z[k], z[(k + 1) % 3]);
                if za >= near {
                    poly[n] = a;
                    n += 1;
                }
                if (za >= near) != (zb >= near) {
                    let s = (near - za) / (zb - za);
                    let (ca, cb) = (self.cam[a as usize], self.cam[b as usize]);
                    let mut c = [0.0f32; 3];
                    for j in 0..3 {
                        c[j] = ca[j] + s * (cb[j] - ca[j]);
                    }
                    c[2] = near;
                    let na = vertex_normal(shape, &self.extra_nrm, nv, a);
                    let nb = vertex_normal(shape, &self.extra_nrm, nv, b);
                    let mut nc = [0.0f32; 3];
                    for j in 0..3 {
                        nc[j] = na[j] + s * (nb[j] - na[j]);
                    }
                    poly[n] = self.push_clip_vertex(c, nc, p);
                    n += 1;
                }
            }
            for k in 1..n.saturating_sub(1) {
                self.emit([poly[0], poly[k], poly[k + 1]], p, shape.closed);
            }
        }
    }
}

#[inline]
fn vertex_normal(shape: &TriMesh, extra: &[[f32; 3]], nv: usize, i: u32) -> [f32; 3] {
    let i = i as usize;
    if i < nv {
        shape.nrm[i]
    } else {
        extra[i - nv]
    }
}

/// `floor` for the checker, with float operations only (no libm call, no saturating float to
/// integer conversion): adding and subtracting 1.5 * 2^23 rounds to the nearest integer for
/// |x| < 2^22 (larger values are clamped; the checker only needs them modulo 2).
#[inline]
fn floor_f32(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-4.0e6, 4.0e6);
    let r = (x + ROUND) - ROUND;
    if r > x {
        r - 1.0
    } else {
        r
    }
}

/// Integral of the square wave that is 0 on [0, 1) and 1 on [1, 2) (period 2).
#[inline]
fn square_integral(x: f32) -> f32 {
    let h = floor_f32(0.5 * x);
    h + (x - 2.0 * h - 1.0).max(0.0)
}

/// Fraction of the checker's dark cells in a box of width `w` (cells) around (u, v), so distant
/// cells blend to grey instead of aliasing. Coordinates are first reduced modulo 2 cells (the
/// pattern's period), which keeps the f32 box filter precise far from the origin.
fn checker(u: f32, v: f32, w: f32) -> f32 {
    if w >= 4.0 {
        // each box holds at least 4 cells: within 0.03 of the mean
        return 0.5;
    }
    let u = u - 2.0 * floor_f32(0.5 * u);
    let v = v - 2.0 * floor_f32(0.5 * v);
    if w < 0.02 {
        // sharp: no blending needed
        let k = floor_f32(u) + floor_f32(v); // 0 to 2: dark when odd
        return if k == 1.0 { 1.0 } else { 0.0 };
    }
    let inv_w = 1.0 / w;
    let f = |x: f32| (square_integral(x + 0.5 * w) - square_integral(x - 0.5 * w)) * inv_w;
    let (a, b) = (f(u), f(v));
    a + b - 2.0 * a * b
}

impl Renderer {
    /// An empty renderer; buffers grow on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Render `scene` with geoms at world poses (`geom_pos`, `geom_rot`, one per model geom)
    /// through `cam` into `frame`. Errors name the bad argument.
    pub fn render(
        &mut self,
        scene: &RenderScene,
        geom_pos: &[Vec3],
        geom_rot: &[Mat3],
        cam: &Camera,
        out: Outputs,
        frame: &mut Frame,
    ) -> Result<(), String> {
        cam.validate()?;
        if geom_pos.len() != scene.ngeom || geom_rot.len() != scene.ngeom {
            return Err(format!(
                "geom poses: expected {} positions and rotations, got {} and {}",
                scene.ngeom,
                geom_pos.len(),
                geom_rot.len()
            ));
        }
        let (w, h) = (cam.width, cam.height);
        let (cx, cy) = cam.principal_point();
        let p = Proj {
            f: cam.focal_px(),
            cx,
            cy,
            near: cam.near,
            far: cam.far,
            w,
            h,
        };
        let rc = cam.rotation();
        self.bufs
            .resize_with(scene.drawables.len(), DrawBuf::default);

        // ---- 1. setup ----
        let t0 = std::time::Instant::now();
        let half_tan_x = 0.5 * w as f64 / p.f;
        let half_tan_y = 0.5 * h as f64 / p.f;
        self.bufs
            .par_iter_mut()
            .zip(&scene.drawables)
            .for_each(|(buf, d)| {
                buf.tris.clear();
                buf.rows = (1, 0);
                (buf.pos, buf.rot) = match d.geom.checked_sub(scene.ngeom) {
                    None => (geom_pos[d.geom], geom_rot[d.geom]),
                    Some(k) => scene.debug_poses[k],
                };
                if d.rgba[3] <= 0.0 {
                    return;
                }
                let rot_cg = rc * buf.rot;
                let t_cg = rc * (buf.pos - cam.pos);
                let shape = match d.surface {
                    Surface::Solid => {
                        // skip drawables whose bounding sphere is outside the view
                        let (c, r) = scene.shape_bounds[d.shape];
                        let cc = rot_cg * c + t_cg;
                        let outside = cc.z + r < p.near
                            || cc.z - r > p.far
                            || cc.x.abs() - half_tan_x * cc.z
                                > r * (1.0 + half_tan_x * half_tan_x).sqrt()
                            || cc.y.abs() - half_tan_y * cc.z
                                > r * (1.0 + half_tan_y * half_tan_y).sqrt();
                        if outside {
                            return;
                        }
                        &scene.shapes[d.shape]
                    }
                    Surface::Checker { half, .. } => {
                        // a finite plane as given; an infinite one as a square around the camera's foot
                        let local = buf.rot.transpose() * (cam.pos - buf.pos);
                        let (hx, hy, ox, oy) = match half {
                            [a, b] if a > 0.0 && b > 0.0 => (a, b, 0.0, 0.0),
                            _ => (p.far, p.far, local.x, local.y),
                        };
                        let quad = TriMesh::quad(ox, oy, [hx, hy]);
                        buf.setup(&quad, &rot_cg, &t_cg, &p);
                        buf.plane = quad;
                        return;
                    }
                };
                buf.setup(shape, &rot_cg, &t_cg, &p);
            });

        // ---- 2. raster ----
        let t1 = std::time::Instant::now();
        let n = w * h;
        self.inv_z.clear();
        self.inv_z.resize(n, (1.0 / cam.far) as f32);
        self.ids.clear();
        self.ids.resize(n, NO_TRI);
        self.lam.clear();
        self.lam.resize(n, [0.0; 2]);
        let bands = (4 * rayon::current_num_threads()).clamp(1, h);
        let band_rows = h.div_ceil(bands);
        let bufs = &self.bufs;
        self.inv_z
            .par_chunks_mut(band_rows * w)
            .zip(self.ids.par_chunks_mut(band_rows * w))
            .zip(self.lam.par_chunks_mut(band_rows * w))
            .enumerate()
            .for_each(|(b, ((zb, ib), lb))| {
                let r0 = b * band_rows;
                let r1 = r0 + zb.len() / w - 1; // inclusive
                raster_band(bufs, r0, r1, w, zb, ib, lb);
            });

        // ---- 3. shading ----
        let t2 = std::time::Instant::now();
        frame.width = w;
        frame.height = h;
        resize(&mut frame.rgb, out.rgb, n * 3);
        resize(&mut frame.depth, out.depth, n);
        resize(&mut frame.seg, out.seg, n);
        resize(&mut frame.normal, out.normal, n * 3);
        let rct = rc.transpose();
        let key = Vec3::from(KEY_DIR).normalize();
        let draw: Vec<DrawShade> = self
            .bufs
            .iter()
            .zip(&scene.drawables)
            .map(|(buf, d)| DrawShade::new(buf, d, &cam.pos, scene.ngeom))
            .collect();
        let ctx = ShadeCtx {
            scene,
            bufs: &self.bufs,
            draw: &draw,
            p,
            rct,
            key,
        };
        let (inv_z, ids, lam) = (&self.inv_z, &self.ids, &self.lam);
        // split every requested output into rows and shade rows in parallel
        let mut rgb_rows: Vec<&mut [u8]> = frame.rgb.chunks_mut((w * 3).max(1)).collect();
        let mut depth_rows: Vec<&mut [f32]> = frame.depth.chunks_mut(w.max(1)).collect();
        let mut seg_rows: Vec<&mut [i32]> = frame.seg.chunks_mut(w.max(1)).collect();
        let mut nrm_rows: Vec<&mut [f32]> = frame.normal.chunks_mut((w * 3).max(1)).collect();
        let mut rows: Vec<RowOut> = (0..h)
            .map(|_| RowOut {
                rgb: None,
                depth: None,
                seg: None,
                normal: None,
            })
            .collect();
        for (r, s) in rgb_rows.drain(..).enumerate() {
            rows[r].rgb = Some(s);
        }
        for (r, s) in depth_rows.drain(..).enumerate() {
            rows[r].depth = Some(s);
        }
        for (r, s) in seg_rows.drain(..).enumerate() {
            rows[r].seg = Some(s);
        }
        for (r, s) in nrm_rows.drain(..).enumerate() {
            rows[r].normal = Some(s);
        }
        rows.par_iter_mut().enumerate().for_each(|(r, row)| {
            let k = r * w;
            ctx.shade_row(r, &inv_z[k..k + w], &ids[k..k + w], &lam[k..k + w], row);
        });
        let t3 = std::time::Instant::now();
        self.phase_seconds[0] += (t1 - t0).as_secs_f64();
        self.phase_seconds[1] += (t2 - t1).as_secs_f64();
        self.phase_seconds[2] += (t3 - t2).as_secs_f64();
        Ok(())
    }
}

/// Rasterize every triangle overlapping rows r0..=r1 into the band's buffers.
#[inline(never)]
fn raster_band(
    bufs: &[DrawBuf],
    r0: usize,
    r1: usize,
    w: usize,
    zb: &mut [f32],
    ib: &mut [u64],
    lb: &mut [[f32; 2]],
) {
    for (d, buf) in bufs.iter().enumerate() {
        if (buf.rows.1 as usize) < r0 || (buf.rows.0 as usize) > r1 || buf.tris.is_empty() {
            continue;
        }
        for (t, tri) in buf.tris.iter().enumerate() {
            let [x0, x1, ty0, ty1] = tri.bbox.map(|v| v as usize);
            let y0 = ty0.max(r0);
            let y1 = ty1.min(r1);
            if y0 > y1 {
                continue;
            }
            let x = tri.x.map(|v| v as f64);
            let y = tri.y.map(|v| v as f64);
            let iz = tri.iz.map(|v| v as f64);
            let area = (x[1] - x[0]) * (y[2] - y[0]) - (y[1] - y[0]) * (x[2] - x[0]);
            let inv_area = 1.0 / area;
            let edges = Edges::new(&x, &y);
            let id = ((d as u64) << 32) | t as u64;
            for py in y0..=y1 {
                let row = (py - r0) * w;
                let cy = py as f64 + 0.5;
                let Some((sx0, sx1)) = edges.span(cy, x0, x1) else {
                    continue;
                };
                for px in sx0..=sx1 {
                    let Some(e) = edges.covers(px as f64 + 0.5, cy) else {
                        continue;
                    };
                    let (b0, b1, b2) = (e[0] * inv_area, e[1] * inv_area, e[2] * inv_area);
                    let izp = b0 * iz[0] + b1 * iz[1] + b2 * iz[2];
                    let k = row + px;
                    if izp as f32 > zb[k] {
                        zb[k] = izp as f32;
                        ib[k] = id;
                        // screen-space weights; shading makes them perspective-correct
                        lb[k] = [b1 as f32, b2 as f32];
                    }
                }
            }
        }
    }
}

struct RowOut<'a> {
    rgb: Option<&'a mut [u8]>,
    depth: Option<&'a mut [f32]>,
    seg: Option<&'a mut [i32]>,
    normal: Option<&'a mut [f32]>,
}

struct ShadeCtx<'a> {
    scene: &'a RenderScene,
    bufs: &'a [DrawBuf],
    draw: &'a [DrawShade],
    p: Proj,
    /// Camera-to-world rotation.
    rct: Mat3,
    key: Vec3,
}

type V3 = [f32; 3];

#[inline]
fn dot(a: V3, b: V3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[inline]
fn axpy(a: f32, x: V3, y: V3) -> V3 {
    [a * x[0] + y[0], a * x[1] + y[1], a * x[2] + y[2]]
}

#[inline]
fn v3(v: &Vec3) -> V3 {
    [v.x as f32, v.y as f32, v.z as f32]
}

/// Per-drawable shading constants of one frame (f32: colours only).
struct DrawShade {
    /// Geom-to-world rotation, rows.
    rot: [V3; 3],
    rgb: [f32; 3],
    geom: i32,
    /// Checker: 1 / cell (1/m), or 0 for a solid surface.
    inv_cell: f32,
    /// Checker: plane x and y axes (world) and the camera centre's plane coordinates.
    plane_axes: [V3; 2],
    plane_o: [f32; 2],
}

impl DrawShade {
    /// (`ngeom`: a debug shape's drawable has no geom, and segments as background, -1)
    fn new(buf: &DrawBuf, d: &crate::scene::Drawable, cam_pos: &Vec3, ngeom: usize) -> Self {
        let inv_cell = match d.surface {
            Surface::Solid => 0.0,
            Surface::Checker { cell, .. } => 1.0 / cell,
        };
        let o = buf.rot.transpose() * (cam_pos - buf.pos);
        let row = |i: usize| v3(&buf.rot.row(i).transpose());
        let col = |j: usize| v3(&buf.rot.column(j).into_owned());
        DrawShade {
            rot: [row(0), row(1), row(2)],
            rgb: [d.rgba[0], d.rgba[1], d.rgba[2]],
            geom: if d.geom < ngeom { d.geom as i32 } else { -1 },
            inv_cell: inv_cell as f32,
            plane_axes: [col(0), col(1)],
            plane_o: [o.x as f32, o.y as f32],
        }
    }
}

/// The triangle last seen in a row: its drawable and geom-frame vertex normals.
struct TriShade {
    id: u64,
    d: usize,
    n: [V3; 3],
    /// 1/z of the vertices.
    iz: [f32; 3],
    /// The world unit normal when the three normals are equal (flat triangle).
    flat: Option<V3>,
}

impl ShadeCtx<'_> {
    fn tri_shade(&self, id: u64) -> TriShade {
        let (d, t) = ((id >> 32) as usize, (id & 0xffff_ffff) as usize);
        let buf = &self.bufs[d];
        let drawable = &self.scene.drawables[d];
        let tri = &buf.tris[t];
        let shape = match drawable.surface {
            Surface::Solid => &self.scene.shapes[drawable.shape],
            Surface::Checker { .. } => &buf.plane,
        };
        let nv = shape.pos.len();
        let n = tri.v.map(|i| vertex_normal(shape, &buf.extra_nrm, nv, i));
        let flat = (n[0] == n[1] && n[1] == n[2]).then(|| {
            let r = &self.draw[d].rot;
            let w = [dot(r[0], n[0]), dot(r[1], n[0]), dot(r[2], n[0])];
            let k = 1.0 / dot(w, w).sqrt();
            [w[0] * k, w[1] * k, w[2] * k]
        });
        TriShade {
            id,
            d,
            n,
            iz: tri.iz,
            flat,
        }
    }

    #[inline(never)]
    fn shade_row(&self, r: usize, inv_z: &[f32], ids: &[u64], lam: &[[f32; 2]], out: &mut RowOut) {
        let bg = self.scene.background.map(|x| to_u8(x as f64));
        let far = self.p.far as f32;
        let mut cur: Option<TriShade> = None;
        // ray through the centre of pixel (c, r), world frame, scaled to unit camera-frame
        // depth: ray0 + c dray
        let inv_f = 1.0 / self.p.f;
        let ray_y = -(r as f64 + 0.5 - self.p.cy) * inv_f;
        let dray = self.rct.column(0) * inv_f;
        let ray0: Vec3 = self.rct.column(1) * ray_y + self.rct.column(2) + dray * (0.5 - self.p.cx);
        let (ray0, dray) = (v3(&ray0), v3(&dray));
        let key = v3(&self.key);
        let inv_f32 = inv_f as f32;
        let want_shading = out.rgb.is_some() || out.normal.is_some();
        for c in 0..ids.len() {
            let id = ids[c];
            if id == NO_TRI {
                if let Some(s) = out.rgb.as_deref_mut() {
                    s[3 * c..3 * c + 3].copy_from_slice(&bg);
                }
                if let Some(s) = out.depth.as_deref_mut() {
                    s[c] = far;
                }
                if let Some(s) = out.seg.as_deref_mut() {
                    s[c] = -1;
                }
                if let Some(s) = out.normal.as_deref_mut() {
                    s[3 * c..3 * c + 3].fill(0.0);
                }
                continue;
            }
            if cur.as_ref().is_none_or(|t| t.id != id) {
                cur = Some(self.tri_shade(id));
            }
            let ts = cur.as_ref().unwrap();
            let ds = &self.draw[ts.d];
            if let Some(s) = out.depth.as_deref_mut() {
                s[c] = (1.0 / inv_z[c] as f64) as f32;
            }
            if let Some(s) = out.seg.as_deref_mut() {
                s[c] = ds.geom;
            }
            if !want_shading {
                continue;
            }
            let cf = c as f32;
            let ray = axpy(cf, dray, ray0);
            let inv_ray_len = 1.0 / dot(ray, ray).sqrt();
            let mut n = match ts.flat {
                Some(f) => f,
                None => {
                    // perspective-correct weights from the screen-space ones: l_i ~ b_i / z_i
                    let (b1, b2) = (lam[c][0], lam[c][1]);
                    let iz = &ts.iz;
                    let w = [(1.0 - b1 - b2) * iz[0], b1 * iz[1], b2 * iz[2]];
                    let inv = 1.0 / (w[0] + w[1] + w[2]);
                    let (l0, l1, l2) = (w[0] * inv, w[1] * inv, w[2] * inv);
                    let m = [0, 1, 2].map(|j| l0 * ts.n[0][j] + l1 * ts.n[1][j] + l2 * ts.n[2][j]);
                    let w = [dot(ds.rot[0], m), dot(ds.rot[1], m), dot(ds.rot[2], m)];
                    let len2 = dot(w, w);
                    if len2 > 1e-20 {
                        let k = 1.0 / len2.sqrt();
                        [w[0] * k, w[1] * k, w[2] * k]
                    } else {
                        [
                            -ray[0] * inv_ray_len,
                            -ray[1] * inv_ray_len,
                            -ray[2] * inv_ray_len,
                        ]
                    }
                }
            };
            let mut ndv = -dot(n, ray) * inv_ray_len;
            if ndv < 0.0 {
                n = [-n[0], -n[1], -n[2]];
                ndv = -ndv;
            }
            if let Some(s) = out.normal.as_deref_mut() {
                s[3 * c..3 * c + 3].copy_from_slice(&n);
            }
            let Some(s) = out.rgb.as_deref_mut() else {
                continue;
            };
            let mut shade =
                AMBIENT as f32 + HEADLIGHT as f32 * ndv + KEYLIGHT as f32 * dot(n, key).max(0.0);
            if ds.inv_cell > 0.0 {
                let z = 1.0 / inv_z[c];
                let u = (ds.plane_o[0] + z * dot(ds.plane_axes[0], ray)) * ds.inv_cell;
                let v = (ds.plane_o[1] + z * dot(ds.plane_axes[1], ray)) * ds.inv_cell;
                // footprint of a pixel on the plane, in cells
                let width = z * inv_f32 * ds.inv_cell / (inv_ray_len * ndv.max(0.05));
                let dark = checker(u, v, width);
                shade *= 1.0 - (1.0 - CHECKER_DARK as f32) * dark;
            }
            for j in 0..3 {
                s[3 * c + j] = to_u8_f32(ds.rgb[j] * shade);
            }
        }
    }
}

/// `x` in [0, 1] (clamped; NaN gives 0) to 0..=255, rounded. Adding 2^23 leaves round(255 x)
/// in the low mantissa bits, which avoids the saturating float to integer conversion.
#[inline]
#[allow(clippy::manual_clamp)] // max/min, not clamp: NaN must give 0
fn to_u8_f32(x: f32) -> u8 {
    let y = x.max(0.0).min(1.0) * 255.0;
    ((y + 8_388_608.0).to_bits() & 0xff) as u8
}

fn resize<T: Clone + Default>(v: &mut Vec<T>, on: bool, len: usize) {
    v.clear();
    if on {
        v.resize(len, T::default());
    }
}

#[inline]
fn to_u8(x: f64) -> u8 {
    (x.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::Drawable;

    /// A scene of the given shapes (geom i = shape i, solid white unless coloured).
    fn scene_of(shapes: Vec<TriMesh>) -> RenderScene {
        let n = shapes.len();
        let drawables = (0..n)
            .map(|i| Drawable {
                geom: i,
                shape: i,
                rgba: [1.0; 4],
                surface: Surface::Solid,
            })
            .collect();
        RenderScene::from_parts(n, drawables, shapes, [0.0; 3])
    }

    fn tri_mesh(p: [[f64; 3]; 3]) -> TriMesh {
        TriMesh {
            pos: p.iter().map(|v| v.map(|x| x as f32)).collect(),
            nrm: vec![[0.0, 0.0, 1.0]; 3],
            tri: vec![[0, 1, 2]],
            closed: false,
        }
    }

    /// Camera at the origin looking along +z; image x grows with world -x... use project().
    fn cam(w: usize, h: usize, fovy: f64) -> Camera {
        Camera {
            pos: Vec3::zeros(),
            lookat: Vec3::new(0.0, 0.0, 1.0),
            up: Vec3::y(),
            fovy_deg: fovy,
            width: w,
            height: h,
            near: 0.05,
            far: 100.0,
        }
    }

    fn render(scene: &RenderScene, pos: &[Vec3], cam: &Camera) -> Frame {
        let rot = vec![Mat3::identity(); pos.len()];
        let mut f = Frame::default();
        Renderer::new()
            .render(scene, pos, &rot, cam, Outputs::ALL, &mut f)
            .unwrap();
        f
    }

    #[test]
    fn triangle_covers_the_pixel_centres_inside_it() {
        let c = cam(40, 30, 60.0);
        // world points chosen anywhere in view; expected coverage from their projections
        let pts = [[0.3, -0.2, 2.0], [-0.5, 0.1, 2.5], [0.1, 0.6, 3.0]];
        let scene = scene_of(vec![tri_mesh(pts)]);
        let f = render(&scene, &[Vec3::zeros()], &c);
        let q: Vec<(f64, f64)> = pts
            .iter()
            .map(|p| c.project(&Vec3::from(*p)).unwrap())
            .collect();
        let side = |a: (f64, f64), b: (f64, f64), x: f64, y: f64| {
            (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0)
        };
        let mut covered = 0;
        for r in 0..30 {
            for col in 0..40 {
                let (x, y) = (col as f64 + 0.5, r as f64 + 0.5);
                let s = [
                    side(q[0], q[1], x, y),
                    side(q[1], q[2], x, y),
                    side(q[2], q[0], x, y),
                ];
                let inside = s.iter().all(|&v| v > 1e-6) || s.iter().all(|&v| v < -1e-6);
                let outside = s.iter().any(|&v| v > 1e-6) && s.iter().any(|&v| v < -1e-6);
                let hit = f.seg[r * 40 + col] == 0;
                if inside {
                    assert!(hit, "pixel ({col}, {r}) inside but not drawn");
                    covered += 1;
                } else if outside {
                    assert!(!hit, "pixel ({col}, {r}) outside but drawn");
                }
            }
        }
        assert!(covered > 20);
    }

    #[test]
    fn shared_edges_cover_each_pixel_once() {
        // a square split along its diagonal, vertices on pixel centres and corners
        let (a, b, c, d) = ([2.5, 2.5], [12.5, 2.5], [12.5, 12.5], [2.5, 12.5]);
        let t1 = ([a[0], b[0], c[0]], [a[1], b[1], c[1]]);
        let t2 = ([a[0], c[0], d[0]], [a[1], c[1], d[1]]);
        // orient both counter-clockwise (positive area) as setup does
        let orient = |(mut x, mut y): ([f64; 3], [f64; 3])| {
            let area = (x[1] - x[0]) * (y[2] - y[0]) - (y[1] - y[0]) * (x[2] - x[0]);
            if area < 0.0 {
                x.swap(1, 2);
                y.swap(1, 2);
            }
            (x, y)
        };
        let (t1, t2) = (orient(t1), orient(t2));
        for py in 0..16 {
            for px in 0..16 {
                let (x, y) = (px as f64 + 0.5, py as f64 + 0.5);
                let n = Edges::new(&t1.0, &t1.1).covers(x, y).is_some() as u32
                    + Edges::new(&t2.0, &t2.1).covers(x, y).is_some() as u32;
                let inside = x > 2.5 && x < 12.5 && y > 2.5 && y < 12.5;
                let border = (2.5..=12.5).contains(&x) && (2.5..=12.5).contains(&y) && !inside;
                if inside {
                    // includes the shared diagonal x == y
                    assert_eq!(n, 1, "pixel ({px}, {py}) covered {n} times");
                } else if border {
                    assert!(n <= 1, "pixel ({px}, {py}) covered {n} times");
                } else {
                    assert_eq!(n, 0, "pixel ({px}, {py}) covered {n} times");
                }
            }
        }
        // of two opposite borders exactly one is drawn
        let on = |x: f64, y: f64| {
            Edges::new(&t1.0, &t1.1).covers(x, y).is_some()
                || Edges::new(&t2.0, &t2.1).covers(x, y).is_some()
        };
        assert!(on(2.5, 7.5) != on(12.5, 7.5));
        assert!(on(7.5, 2.5) != on(7.5, 12.5));
    }

    #[test]
    fn a_fan_of_triangles_is_watertight() {
        // a convex polygon with awkward vertex coordinates, split into a fan around an inner
        // point: every pixel centre strictly inside the polygon is covered exactly once
        let centre = (20.3f32, 17.9f32);
        let m = 13;
        let ring: Vec<(f32, f32)> = (0..m)
            .map(|i| {
                let a = 2.0 * std::f32::consts::PI * (i as f32 + 0.37) / m as f32;
                (centre.0 + 15.7 * a.cos(), centre.1 + 14.1 * a.sin())
            })
            .collect();
        let tris: Vec<Edges> = (0..m)
            .map(|i| {
                let (a, b) = (ring[i], ring[(i + 1) % m]);
                let (mut x, mut y) = (
                    [centre.0, a.0, b.0].map(|v| v as f64),
                    [centre.1, a.1, b.1].map(|v| v as f64),
                );
                let area = (x[1] - x[0]) * (y[2] - y[0]) - (y[1] - y[0]) * (x[2] - x[0]);
                if area < 0.0 {
                    x.swap(1, 2);
                    y.swap(1, 2);
                }
                Edges::new(&x, &y)
            })
            .collect();
        let mut inside_pixels = 0;
        for py in 0..40 {
            for px in 0..42 {
                let (x, y) = (px as f64 + 0.5, py as f64 + 0.5);
                let n = tris.iter().filter(|e| e.covers(x, y).is_some()).count();
                // strictly inside the polygon: inside every outer edge by a margin
                let inner = (0..m).all(|i| {
                    let (a, b) = (ring[i], ring[(i + 1) % m]);
                    let (a, b) = ((a.0 as f64, a.1 as f64), (b.0 as f64, b.1 as f64));
                    (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0) > 1e-3
                });
                if inner {
                    assert_eq!(n, 1, "pixel ({px}, {py}) covered {n} times");
                    inside_pixels += 1;
                }
                assert!(n <= 1);
                // spans never cut a covered pixel
                for e in &tris {
                    if e.covers(x, y).is_some() {
                        let (lo, hi) = e.span(y, 0, 41).unwrap();
                        assert!(lo <= px && px <= hi);
                    }
                }
            }
        }
        assert!(inside_pixels > 500);
    }

    #[test]
    fn depth_is_exact_on_a_tilted_plane() {
        // plane through (0, 0, 3) with normal (0.3, 0.2, -1): depth at each pixel = ray hit
        let c = cam(64, 48, 50.0);
        let n = Vec3::new(0.3, 0.2, -1.0).normalize();
        let p0 = Vec3::new(0.0, 0.0, 3.0);
        let t = n.cross(&Vec3::x()).normalize();
        let s = n.cross(&t);
        let corner = |a: f64, b: f64| {
            let v = p0 + 5.0 * (a * t + b * s);
            [v.x, v.y, v.z]
        };
        let mut quad = tri_mesh([corner(-1.0, -1.0), corner(1.0, -1.0), corner(1.0, 1.0)]);
        quad.pos.push(corner(-1.0, 1.0).map(|x| x as f32));
        quad.nrm.push([0.0, 0.0, 1.0]);
        quad.tri.push([0, 2, 3]);
        let scene = scene_of(vec![quad]);
        let f = render(&scene, &[Vec3::zeros()], &c);
        let rot = c.rotation();
        let fpx = c.focal_px();
        let mut worst: f64 = 0.0;
        for r in 0..48 {
            for col in 0..64 {
                let ray_c = Vec3::new(
                    (col as f64 + 0.5 - 32.0) / fpx,
                    -(r as f64 + 0.5 - 24.0) / fpx,
                    1.0,
                );
                let ray = rot.transpose() * ray_c;
                let z = n.dot(&p0) / n.dot(&ray); // camera at the origin; z along the axis
                let got = f.depth[r * 64 + col] as f64;
                assert_eq!(f.seg[r * 64 + col], 0);
                worst = worst.max((got - z).abs() / z);
            }
        }
        assert!(worst < 1e-5, "worst relative depth error {worst}");
    }

    #[test]
    fn near_plane_clipping_keeps_the_visible_part() {
        // a ground quad reaching behind the camera: every pixel below the horizon sees it
        let c = Camera {
            pos: Vec3::new(0.0, 0.0, 1.0),
            lookat: Vec3::new(1.0, 0.0, 1.0),
            up: Vec3::z(),
            fovy_deg: 60.0,
            width: 32,
            height: 32,
            near: 0.05,
            far: 50.0,
        };
        let mut ground = tri_mesh([[-20.0, -20.0, 0.0], [20.0, -20.0, 0.0], [20.0, 20.0, 0.0]]);
        ground.pos.push([-20.0, 20.0, 0.0]);
        ground.nrm.push([0.0, 0.0, 1.0]);
        ground.tri.push([0, 2, 3]);
        let scene = scene_of(vec![ground]);
        let f = render(&scene, &[Vec3::zeros()], &c);
        for r in 0..32 {
            for col in 0..32 {
                let k = r * 32 + col;
                if r >= 16 {
                    // below the horizon: the ray hits z = 0 at x = 1 / tan(angle below the axis)
                    let down = (r as f64 + 0.5 - 16.0) / c.focal_px();
                    let expected = 1.0 / down; // depth along the axis (x)
                    if expected < 20.0 * 0.95 {
                        assert_eq!(f.seg[k], 0, "pixel ({col}, {r})");
                        let got = f.depth[k] as f64;
                        assert!(
                            (got - expected).abs() < 1e-4 * expected,
                            "{got} vs {expected}"
                        );
                    }
                } else {
                    assert_eq!(f.seg[k], -1);
                    assert_eq!(f.depth[k], 50.0);
                }
                assert!(f.normal[3 * k..3 * k + 3].iter().all(|x| x.is_finite()));
            }
        }
    }

    #[test]
    fn nearer_geometry_wins_and_colours_follow_geoms() {
        let c = cam(32, 32, 40.0);
        let mut scene = scene_of(vec![
            TriMesh::cuboid(&Vec3::repeat(0.2)),
            TriMesh::cuboid(&Vec3::repeat(3.0)),
        ]);
        scene.drawables[0].rgba = [1.0, 0.0, 0.0, 1.0];
        scene.drawables[1].rgba = [0.0, 0.0, 1.0, 1.0];
        let f = render(
            &scene,
            &[Vec3::new(0.0, 0.0, 2.0), Vec3::new(0.0, 0.0, 8.0)],
            &c,
        );
        let centre = 16 * 32 + 16;
        assert_eq!(f.seg[centre], 0);
        assert!((f.depth[centre] - 1.8).abs() < 1e-5);
        let px = &f.rgb[3 * centre..3 * centre + 3];
        assert!(px[0] > 150 && px[1] == 0 && px[2] == 0, "{px:?}");
        // facing the camera: normal -z
        assert!((f.normal[3 * centre + 2] + 1.0).abs() < 1e-5);
        let edge = 16 * 32 + 1; // near the left border: the big blue box
        assert_eq!(f.seg[edge], 1);
        assert!((f.depth[edge] - 5.0).abs() < 1e-5);
        assert!(f.rgb[3 * edge + 2] > 150);
        // hidden geoms (alpha 0) are not drawn
        scene.drawables[0].rgba[3] = 0.0;
        let f = render(
            &scene,
            &[Vec3::new(0.0, 0.0, 2.0), Vec3::new(0.0, 0.0, 8.0)],
            &c,
        );
        assert_eq!(f.seg[centre], 1);
    }

    #[test]
    fn sphere_projects_to_the_expected_disc() {
        let c = Camera {
            pos: Vec3::new(3.0, 0.0, 0.0),
            lookat: Vec3::zeros(),
            up: Vec3::z(),
            fovy_deg: 40.0,
            width: 160,
            height: 120,
            near: 0.05,
            far: 100.0,
        };
        let scene = scene_of(vec![TriMesh::sphere(0.5)]);
        let f = render(&scene, &[Vec3::zeros()], &c);
        let (mut n, mut sx, mut sy) = (0.0, 0.0, 0.0);
        for r in 0..120 {
            for col in 0..160 {
                if f.seg[r * 160 + col] == 0 {
                    n += 1.0;
                    sx += col as f64 + 0.5;
                    sy += r as f64 + 0.5;
                }
            }
        }
        let radius = (n / std::f64::consts::PI).sqrt();
        let expected = c.focal_px() * 0.5 / (9.0f64 - 0.25).sqrt();
        assert!((sx / n - 80.0).abs() < 0.05 && (sy / n - 60.0).abs() < 0.05);
        assert!(
            (radius - expected).abs() < 0.01 * expected,
            "{radius} vs {expected}"
        );
        // the nearest point is 2.5 m away
        assert!((f.depth[60 * 160 + 80] - 2.5).abs() < 0.005);
    }

    #[test]
    fn checker_blends_to_its_mean_when_cells_are_tiny() {
        assert!(checker(0.25, 0.25, 1e-3).abs() < 1e-5);
        assert!((checker(-0.25, 0.25, 1e-3) - 1.0).abs() < 1e-5);
        assert!((checker(-0.25, 0.25, 0.03) - 1.0).abs() < 1e-5);
        assert!((checker(0.02, 0.25, 0.1) - 0.3).abs() < 1e-5);
        assert!((checker(1.25, 0.25, 1e-3) - 1.0).abs() < 1e-5);
        assert!(checker(1.25, 1.25, 1e-3).abs() < 1e-5);
        assert!((checker(0.3, 0.7, 40.0) - 0.5).abs() < 0.02);
        assert!((square_integral(3.5) - 1.5).abs() < 1e-5);
        for (x, f) in [
            (0.0, 0.0),
            (0.5, 0.0),
            (-0.5, -1.0),
            (-1.0, -1.0),
            (2.99, 2.0),
            (-3.01, -4.0),
        ] {
            assert_eq!(floor_f32(x), f, "floor({x})");
        }
        for (x, b) in [
            (0.0, 0),
            (1.0, 255),
            (0.5, 128),
            (0.2, 51),
            (-1.0, 0),
            (2.0, 255),
            (f32::NAN, 0),
        ] {
            assert_eq!(to_u8_f32(x), b, "to_u8({x})");
        }
    }

    #[test]
    fn pose_length_mismatch_is_an_error() {
        let scene = scene_of(vec![TriMesh::sphere(0.5)]);
        let mut f = Frame::default();
        let e = Renderer::new()
            .render(&scene, &[], &[], &cam(8, 8, 40.0), Outputs::ALL, &mut f)
            .unwrap_err();
        assert!(e.starts_with("geom poses"), "{e}");
    }
}
