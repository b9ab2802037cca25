//! Spatial motion, force and inertia in world coordinates at the world origin.

use super::{skew, Mat3, Vec3};
use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};

/// Spatial motion vector `[w; v]` (angular first, linear velocity of the point at the origin).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Motion {
    /// Angular part (rad/s or rad/s^2).
    pub ang: Vec3,
    /// Linear part (m/s or m/s^2), at the world origin.
    pub lin: Vec3,
}

/// Spatial force vector `[n; f]` (moment about the origin first, then force).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Force {
    /// Moment about the world origin (N m).
    pub ang: Vec3,
    /// Force (N).
    pub lin: Vec3,
}

impl Motion {
    /// Zero motion.
    pub fn zero() -> Self {
        Self::default()
    }
    /// New motion from angular and linear parts.
    pub fn new(ang: Vec3, lin: Vec3) -> Self {
        Self { ang, lin }
    }
    /// Motion cross product `self x m` (derivative of `m` moving with velocity `self`).
    #[inline]
    pub fn cross_motion(&self, m: &Motion) -> Motion {
        Motion {
            ang: self.ang.cross(&m.ang),
            lin: self.ang.cross(&m.lin) + self.lin.cross(&m.ang),
        }
    }
    /// Force cross product `self x* f`.
    #[inline]
    pub fn cross_force(&self, f: &Force) -> Force {
        Force {
            ang: self.ang.cross(&f.ang) + self.lin.cross(&f.lin),
            lin: self.ang.cross(&f.lin),
        }
    }
    /// Power pairing `<self, f>`.
    #[inline]
    pub fn dot(&self, f: &Force) -> f64 {
        self.ang.dot(&f.ang) + self.lin.dot(&f.lin)
    }
    /// Linear velocity of the body-fixed point `p` (world coordinates).
    #[inline]
    pub fn point_velocity(&self, p: &Vec3) -> Vec3 {
        self.lin + self.ang.cross(p)
    }
    /// As a 6-array `[ang; lin]`.
    pub fn to_array(&self) -> [f64; 6] {
        [
            self.ang.x, self.ang.y, self.ang.z, self.lin.x, self.lin.y, self.lin.z,
        ]
    }
}

impl Force {
    /// Zero force.
    pub fn zero() -> Self {
        Self::default()
    }
    /// New force from moment and force parts.
    pub fn new(ang: Vec3, lin: Vec3) -> Self {
        Self { ang, lin }
    }
    /// A pure force `f` applied at point `p`: moment `p x f`.
    #[inline]
    pub fn at_point(p: &Vec3, f: &Vec3) -> Self {
        Self {
            ang: p.cross(f),
            lin: *f,
        }
    }
}

macro_rules! impl_linear {
    ($t:ty) => {
        impl Add for $t {
            type Output = $t;
            #[inline]
            fn add(self, o: $t) -> $t {
                Self {
                    ang: self.ang + o.ang,
                    lin: self.lin + o.lin,
                }
            }
        }
        impl Sub for $t {
            type Output = $t;
            #[inline]
            fn sub(self, o: $t) -> $t {
                Self {
                    ang: self.ang - o.ang,
                    lin: self.lin - o.lin,
                }
            }
        }
        impl AddAssign for $t {
            #[inline]
            fn add_assign(&mut self, o: $t) {
                self.ang += o.ang;
                self.lin += o.lin;
            }
        }
        impl SubAssign for $t {
            #[inline]
            fn sub_assign(&mut self, o: $t) {
                self.ang -= o.ang;
                self.lin -= o.lin;
            }
        }
        impl Neg for $t {
            type Output = $t;
            #[inline]
            fn neg(self) -> $t {
                Self {
                    ang: -self.ang,
                    lin: -self.lin,
                }
            }
        }
        impl Mul<f64> for $t {
            type Output = $t;
            #[inline]
            fn mul(self, s: f64) -> $t {
                Self {
                    ang: self.ang * s,
                    lin: self.lin * s,
                }
            }
        }
    };
}
impl_linear!(Motion);
impl_linear!(Force);

/// Rigid-body spatial inertia about the world origin, stored compactly:
/// mass `m`, first moment `h = m c` (c = centre of mass), and the rotational
/// inertia about the origin `i_o = I_c - m [c]x [c]x`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Inertia {
    /// Mass (kg).
    pub mass: f64,
    /// First moment of mass about the origin (kg m).
    pub h: Vec3,
    /// Rotational inertia about the origin, world axes (kg m^2).
    pub i_o: Mat3,
}

impl Inertia {
    /// Zero inertia.
    pub fn zero() -> Self {
        Self {
            mass: 0.0,
            h: Vec3::zeros(),
            i_o: Mat3::zeros(),
        }
    }
    /// From mass, centre of mass (world) and rotational inertia about the centre of mass (world axes).
    #[inline]
    pub fn from_com(mass: f64, com: &Vec3, i_com: &Mat3) -> Self {
        let c = skew(com);
        Self {
            mass,
            h: com * mass,
            i_o: i_com - c * c * mass,
        }
    }
    /// Momentum `I * m`.
    #[inline]
    pub fn mul_motion(&self, m: &Motion) -> Force {
        Force {
            ang: self.i_o * m.ang + self.h.cross(&m.lin),
            lin: m.lin * self.mass - self.h.cross(&m.ang),
        }
    }
}

impl Add for Inertia {
    type Output = Inertia;
    fn add(self, o: Inertia) -> Inertia {
        Inertia {
            mass: self.mass + o.mass,
            h: self.h + o.h,
            i_o: self.i_o + o.i_o,
        }
    }
}
impl AddAssign for Inertia {
    fn add_assign(&mut self, o: Inertia) {
        self.mass += o.mass;
        self.h += o.h;
        self.i_o += o.i_o;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inertia_product_matches_momentum_of_point_mass() {
        // a point mass at c moving with a rigid motion: momentum = m * v_c, moment = c x m v_c
        let c = Vec3::new(0.3, -0.2, 0.5);
        let m = 2.0;
        let i = Inertia::from_com(m, &c, &Mat3::zeros());
        let tw = Motion::new(Vec3::new(0.1, 0.7, -0.4), Vec3::new(1.0, -2.0, 0.5));
        let vc = tw.point_velocity(&c);
        let f = i.mul_motion(&tw);
        assert!((f.lin - vc * m).norm() < 1e-14);
        assert!((f.ang - c.cross(&(vc * m))).norm() < 1e-14);
    }

    #[test]
    fn cross_force_is_dual_of_cross_motion() {
        // <v x m, f> = -<m, v x* f>
        let v = Motion::new(Vec3::new(0.1, 0.2, 0.3), Vec3::new(-0.4, 0.5, 0.6));
        let m = Motion::new(Vec3::new(0.7, -0.8, 0.9), Vec3::new(1.0, 1.1, -1.2));
        let f = Force::new(Vec3::new(0.3, 0.1, -0.2), Vec3::new(0.5, -0.6, 0.4));
        let lhs = v.cross_motion(&m).dot(&f);
        let rhs = -m.dot(&v.cross_force(&f));
        assert!((lhs - rhs).abs() < 1e-14);
    }
}
