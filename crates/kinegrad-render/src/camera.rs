//! Pinhole camera: pose from (pos, lookat, up), vertical field of view, resolution, clip range.
//!
//! Camera frame used inside the renderer: x to the right, y up, z forward (along the view
//! direction), so a point's camera-frame z is its depth (distance along the camera axis), the
//! value the depth image holds. Pixel (i, j) (column i, row j from the top) has its centre at
//! image coordinates (i + 0.5, j + 0.5); a camera-frame point (x, y, z) projects to
//! `(cx + f x / z, cy - f y / z)` with `cx = width / 2`, `cy = height / 2` and the focal length
//! in pixels `f = (height / 2) / tan(fovy / 2)` (square pixels, as Genesis's pinhole camera).

use kinegrad::math::{Mat3, Vec3};

/// A pinhole camera.
#[derive(Clone, Debug, PartialEq)]
pub struct Camera {
    /// Position of the optical centre (m, world).
    pub pos: Vec3,
    /// A point on the optical axis (m, world).
    pub lookat: Vec3,
    /// Approximate up direction (world); need not be orthogonal to the view direction.
    pub up: Vec3,
    /// Vertical field of view (degrees), in (0, 180).
    pub fovy_deg: f64,
    /// Image width (pixels).
    pub width: usize,
    /// Image height (pixels).
    pub height: usize,
    /// Near clip distance along the axis (m); geometry closer than this is cut away.
    pub near: f64,
    /// Far clip distance along the axis (m); also the depth reported where nothing is hit.
    pub far: f64,
}

impl Default for Camera {
    fn default() -> Self {
        Self {
            pos: Vec3::new(3.5, 0.5, 2.5),
            lookat: Vec3::new(0.0, 0.0, 0.5),
            up: Vec3::z(),
            fovy_deg: 30.0,
            width: 320,
            height: 320,
            near: 0.05,
            far: 100.0,
        }
    }
}

impl Camera {
    /// Check every field; the error names the offending one.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("pos", &self.pos),
            ("lookat", &self.lookat),
            ("up", &self.up),
        ] {
            if !v.iter().all(|x| x.is_finite()) {
                return Err(format!("{name}: must be finite, got {:?}", v.as_slice()));
            }
        }
        if !(self.fovy_deg > 0.0 && self.fovy_deg < 180.0) {
            return Err(format!(
                "fov: expected a vertical field of view in (0, 180) degrees, got {}",
                self.fovy_deg
            ));
        }
        if self.width == 0 || self.height == 0 || self.width > 16384 || self.height > 16384 {
            return Err(format!(
                "res: expected (width, height) between 1 and 16384 pixels, got ({}, {})",
                self.width, self.height
            ));
        }
        if !(self.near > 0.0 && self.near.is_finite()) {
            return Err(format!(
                "near: expected a positive distance, got {}",
                self.near
            ));
        }
        if !(self.far > self.near && self.far.is_finite()) {
            return Err(format!(
                "far: expected a finite distance beyond near={}, got {}",
                self.near, self.far
            ));
        }
        let d = self.lookat - self.pos;
        if d.norm() < 1e-9 {
            return Err("lookat: must differ from pos".into());
        }
        if d.normalize().cross(&self.up).norm() < 1e-6 {
            return Err(format!(
                "up: {:?} is parallel to the view direction lookat - pos; choose another up vector",
                self.up.as_slice()
            ));
        }
        Ok(())
    }

    /// World-to-camera rotation: its rows are the camera's right, up and forward axes (world).
    /// Call [`Camera::validate`] first (degenerate poses give NaN).
    pub fn rotation(&self) -> Mat3 {
        let f = (self.lookat - self.pos).normalize();
        let r = f.cross(&self.up).normalize();
        let u = r.cross(&f);
        Mat3::from_rows(&[r.transpose(), u.transpose(), f.transpose()])
    }

    /// Focal length in pixels.
    pub fn focal_px(&self) -> f64 {
        0.5 * self.height as f64 / (0.5 * self.fovy_deg.to_radians()).tan()
    }

    /// Image coordinates of the principal point (the image centre).
    pub fn principal_point(&self) -> (f64, f64) {
        (0.5 * self.width as f64, 0.5 * self.height as f64)
    }

    /// Camera-frame coordinates of a world point.
    pub fn to_camera(&self, p: &Vec3) -> Vec3 {
        self.rotation() * (p - self.pos)
    }

    /// Image coordinates (x to the right, y down, pixels) of a world point in front of the camera.
    pub fn project(&self, p: &Vec3) -> Option<(f64, f64)> {
        let c = self.to_camera(p);
        if c.z <= 0.0 {
            return None;
        }
        let f = self.focal_px();
        let (cx, cy) = self.principal_point();
        Some((cx + f * c.x / c.z, cy - f * c.y / c.z))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_and_projection() {
        let cam = Camera {
            pos: Vec3::new(2.0, 0.0, 0.0),
            lookat: Vec3::zeros(),
            up: Vec3::z(),
            fovy_deg: 90.0,
            width: 200,
            height: 100,
            ..Camera::default()
        };
        cam.validate().unwrap();
        let r = cam.rotation();
        // looking along -x with z up: right is +y
        assert!((r.row(0).transpose() - Vec3::y()).norm() < 1e-12);
        assert!((r.row(1).transpose() - Vec3::z()).norm() < 1e-12);
        assert!((r.row(2).transpose() - Vec3::new(-1.0, 0.0, 0.0)).norm() < 1e-12);
        assert!((cam.focal_px() - 50.0).abs() < 1e-9);
        let (x, y) = cam.project(&Vec3::zeros()).unwrap();
        assert_eq!((x, y), (100.0, 50.0));
        // a point up and to the camera's right lands up (smaller row) and right
        let (x, y) = cam.project(&Vec3::new(0.0, 1.0, 1.0)).unwrap();
        assert!((x - 125.0).abs() < 1e-9 && (y - 25.0).abs() < 1e-9);
        assert!(cam.project(&Vec3::new(3.0, 0.0, 0.0)).is_none());
    }

    #[test]
    fn validation_names_the_field() {
        let ok = Camera::default();
        ok.validate().unwrap();
        let bad = |f: &dyn Fn(&mut Camera)| {
            let mut c = ok.clone();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(&|c| c.fovy_deg = 0.0).starts_with("fov:"));
        assert!(bad(&|c| c.width = 0).starts_with("res:"));
        assert!(bad(&|c| c.up = c.lookat - c.pos).starts_with("up:"));
        assert!(bad(&|c| c.lookat = c.pos).starts_with("lookat:"));
        assert!(bad(&|c| c.far = c.near).starts_with("far:"));
        assert!(bad(&|c| c.pos.x = f64::NAN).starts_with("pos:"));
    }
}
