//! What is drawn: one [`Drawable`] per visible geom, with its tessellated shape and colour.
//!
//! Which geoms are visible (as MuJoCo and Genesis show a model by default): every visual-only
//! geom, and the colliding geoms of bodies that have no visual geom (primitive entities, MJCF
//! models without separate visual meshes). Bodies with visual geometry show only that, so the
//! collision hulls of a Menagerie or URDF robot stay hidden. Geoms whose alpha is 0 are skipped
//! when drawing (their colour may be changed later).

use crate::tess::TriMesh;
use kinegrad::math::{Mat3, Vec3};
use kinegrad::model::{GeomType, Model};
use std::collections::HashMap;

/// The surface of a drawable.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Surface {
    /// Uniformly coloured, Lambert-shaded.
    Solid,
    /// A ground plane with a checker pattern of `cell` metres in its local xy, drawn as a square
    /// of the given half extents (infinite planes: a square reaching the camera's far distance,
    /// centred below the camera).
    Checker {
        /// Half extents in local x and y (m); 0 means infinite.
        half: [f64; 2],
        /// Side of one checker cell (m).
        cell: f64,
    },
}

/// One visible geom.
#[derive(Clone, Debug)]
pub struct Drawable {
    /// Geom index in the model.
    pub geom: usize,
    /// Index into [`RenderScene::shapes`] (unused for checker planes, tessellated per frame).
    pub shape: usize,
    /// Colour (linear 0..1, alpha ignored except 0 = hidden).
    pub rgba: [f32; 4],
    /// Surface kind.
    pub surface: Surface,
}

/// The drawable content of a model, built once (tessellation is the only cost) and reused by
/// every frame.
#[derive(Clone, Debug)]
pub struct RenderScene {
    /// Number of geoms of the model (length of the pose arrays [`crate::Renderer::render`] expects).
    pub ngeom: usize,
    /// Visible geoms.
    pub drawables: Vec<Drawable>,
    /// Tessellated shapes, shared by drawables that use the same mesh.
    pub shapes: Vec<TriMesh>,
    /// Bounding sphere (centre in the geom frame, radius) of each shape.
    pub shape_bounds: Vec<(Vec3, f64)>,
    /// Background colour (linear 0..1).
    pub background: [f32; 3],
    /// World pose of each debug shape ([`RenderScene::set_debug`]); a debug drawable's `geom` is
    /// `ngeom` + its index here.
    pub debug_poses: Vec<(Vec3, Mat3)>,
    /// Drawables and shapes of the model (the debug ones follow).
    model_drawables: usize,
    model_shapes: usize,
}

/// A shape drawn with the model but not part of it (Genesis's debug drawing: markers, arrows,
/// paths): its tessellation, world pose and colour.
#[derive(Clone, Debug)]
pub struct DebugShape {
    /// The shape in its own frame.
    pub shape: TriMesh,
    /// World position of its frame.
    pub pos: Vec3,
    /// World orientation of its frame.
    pub rot: Mat3,
    /// Colour (alpha 0 hides it).
    pub rgba: [f32; 4],
}

/// Default checker cell of ground planes (m).
pub const PLANE_CELL: f64 = 0.5;

/// Genesis's default background colour (`VisOptions.background_color`).
pub const DEFAULT_BACKGROUND: [f32; 3] = [0.04, 0.08, 0.12];

impl RenderScene {
    /// The visible geoms of `model` with the colours the files gave them.
    pub fn new(model: &Model) -> Self {
        let mut body_has_visual = vec![false; model.nbody];
        for g in 0..model.ngeom {
            if model.geom_visual[g] {
                body_has_visual[model.geom_body[g]] = true;
            }
        }
        let mut scene = RenderScene {
            ngeom: model.ngeom,
            drawables: Vec::new(),
            shapes: Vec::new(),
            shape_bounds: Vec::new(),
            background: DEFAULT_BACKGROUND,
            debug_poses: Vec::new(),
            model_drawables: 0,
            model_shapes: 0,
        };
        let mut mesh_shape: HashMap<usize, usize> = HashMap::new();
        for g in 0..model.ngeom {
            let visible = model.geom_visual[g] || !body_has_visual[model.geom_body[g]];
            let rgba = model.geom_rgba[g];
            if !visible {
                continue;
            }
            let size = model.geom_size[g];
            let shape = match model.geom_type[g] {
                GeomType::Plane => {
                    scene.drawables.push(Drawable {
                        geom: g,
                        shape: usize::MAX,
                        rgba,
                        surface: Surface::Checker {
                            half: [size.x.max(0.0), size.y.max(0.0)],
                            cell: PLANE_CELL,
                        },
                    });
                    continue;
                }
                GeomType::Sphere => TriMesh::sphere(size.x),
                GeomType::Capsule => TriMesh::capsule(size.x, size.y),
                GeomType::Cylinder => TriMesh::cylinder(size.x, size.y),
                GeomType::Box => TriMesh::cuboid(&size),
                GeomType::Ellipsoid => TriMesh::ellipsoid(&size),
                GeomType::Mesh => {
                    let Some(k) = model.geom_mesh[g] else {
                        continue;
                    };
                    if let Some(&s) = mesh_shape.get(&k) {
                        scene.drawables.push(Drawable {
                            geom: g,
                            shape: s,
                            rgba,
                            surface: Surface::Solid,
                        });
                        continue;
                    }
                    let mesh = &model.meshes[k];
                    let tm = TriMesh::from_mesh(&mesh.vertices, &mesh.faces);
                    mesh_shape.insert(k, scene.shapes.len());
                    tm
                }
            };
            if shape.tri.is_empty() {
                continue;
            }
            scene.shape_bounds.push(shape.bounding_sphere());
            scene.shapes.push(shape);
            scene.drawables.push(Drawable {
                geom: g,
                shape: scene.shapes.len() - 1,
                rgba,
                surface: Surface::Solid,
            });
        }
        scene.model_drawables = scene.drawables.len();
        scene.model_shapes = scene.shapes.len();
        scene
    }

    /// A scene of the given drawables over `ngeom` geoms and their shapes (each shape's bounding
    /// sphere computed), without debug shapes.
    pub fn from_parts(
        ngeom: usize,
        drawables: Vec<Drawable>,
        shapes: Vec<TriMesh>,
        background: [f32; 3],
    ) -> Self {
        RenderScene {
            ngeom,
            model_drawables: drawables.len(),
            model_shapes: shapes.len(),
            drawables,
            shape_bounds: shapes.iter().map(|s| s.bounding_sphere()).collect(),
            shapes,
            background,
            debug_poses: Vec::new(),
        }
    }

    /// Replace the debug shapes drawn with the model by `items`.
    pub fn set_debug(&mut self, items: Vec<DebugShape>) {
        self.drawables.truncate(self.model_drawables);
        self.shapes.truncate(self.model_shapes);
        self.shape_bounds.truncate(self.model_shapes);
        self.debug_poses.clear();
        for it in items {
            if it.shape.tri.is_empty() {
                continue;
            }
            self.shape_bounds.push(it.shape.bounding_sphere());
            self.shapes.push(it.shape);
            self.drawables.push(Drawable {
                geom: self.ngeom + self.debug_poses.len(),
                shape: self.shapes.len() - 1,
                rgba: it.rgba,
                surface: Surface::Solid,
            });
            self.debug_poses.push((it.pos, it.rot));
        }
    }

    /// The drawables of the model's geoms (not the debug shapes).
    pub fn geom_drawables(&self) -> &[Drawable] {
        &self.drawables[..self.model_drawables]
    }

    /// Set the colour of every drawable of geom `g` (alpha 0 hides it).
    pub fn set_geom_rgba(&mut self, g: usize, rgba: [f32; 4]) {
        for d in self.drawables.iter_mut().filter(|d| d.geom == g) {
            d.rgba = rgba;
        }
    }

    /// Number of triangles drawn per frame (planes count 2).
    pub fn triangle_count(&self) -> usize {
        self.drawables
            .iter()
            .map(|d| match d.surface {
                Surface::Solid => self.shapes[d.shape].tri.len(),
                Surface::Checker { .. } => 2,
            })
            .sum()
    }
}
