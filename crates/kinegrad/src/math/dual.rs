//! Forward-mode dual numbers with `N` tangents, and the [`Real`] trait that lets one function
//! run on `f64` (the forward pass) and on duals (its exact derivatives, for the reverse pass
//! of a stage whose Jacobian is small: a tendon's wrap around a geom).

use std::ops::{Add, Div, Mul, Neg, Sub};

/// The arithmetic a geometric routine needs, on `f64` and on [`Dual`].
pub trait Real:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// A constant.
    fn c(x: f64) -> Self;
    /// The value.
    fn v(self) -> f64;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Arc cosine.
    fn acos(self) -> Self;
    /// Arc sine.
    fn asin(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// The same derivatives with the value `v`.
    fn with_v(self, v: f64) -> Self;
}

impl Real for f64 {
    #[inline]
    fn c(x: f64) -> Self {
        x
    }
    #[inline]
    fn v(self) -> f64 {
        self
    }
    #[inline]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline]
    fn acos(self) -> Self {
        f64::acos(self)
    }
    #[inline]
    fn asin(self) -> Self {
        f64::asin(self)
    }
    #[inline]
    fn sin(self) -> Self {
        f64::sin(self)
    }
    #[inline]
    fn cos(self) -> Self {
        f64::cos(self)
    }
    #[inline]
    fn with_v(self, v: f64) -> Self {
        v
    }
}

/// A value and its derivatives along `N` directions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual<const N: usize> {
    /// The value.
    pub v: f64,
    /// The derivatives.
    pub d: [f64; N],
}

impl<const N: usize> Dual<N> {
    /// The variable `v` along direction `k`.
    pub fn var(v: f64, k: usize) -> Self {
        let mut d = [0.0; N];
        d[k] = 1.0;
        Self { v, d }
    }

    /// The chain rule for a function with value `v` and derivative `dv` at `self.v`.
    #[inline]
    fn chain(self, v: f64, dv: f64) -> Self {
        Self {
            v,
            d: self.d.map(|x| x * dv),
        }
    }
}

impl<const N: usize> Add for Dual<N> {
    type Output = Self;
    #[inline]
    fn add(self, o: Self) -> Self {
        let mut d = self.d;
        for (x, y) in d.iter_mut().zip(o.d) {
            *x += y;
        }
        Self { v: self.v + o.v, d }
    }
}

impl<const N: usize> Sub for Dual<N> {
    type Output = Self;
    #[inline]
    fn sub(self, o: Self) -> Self {
        let mut d = self.d;
        for (x, y) in d.iter_mut().zip(o.d) {
            *x -= y;
        }
        Self { v: self.v - o.v, d }
    }
}

impl<const N: usize> Neg for Dual<N> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        Self {
            v: -self.v,
            d: self.d.map(|x| -x),
        }
    }
}

impl<const N: usize> Mul for Dual<N> {
    type Output = Self;
    #[inline]
    fn mul(self, o: Self) -> Self {
        let mut d = [0.0; N];
        for (k, x) in d.iter_mut().enumerate() {
            *x = self.d[k] * o.v + self.v * o.d[k];
        }
        Self { v: self.v * o.v, d }
    }
}

impl<const N: usize> Div for Dual<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: Self) -> Self {
        let q = self.v / o.v;
        let mut d = [0.0; N];
        for (k, x) in d.iter_mut().enumerate() {
            *x = (self.d[k] - q * o.d[k]) / o.v;
        }
        Self { v: q, d }
    }
}

impl<const N: usize> Real for Dual<N> {
    #[inline]
    fn c(x: f64) -> Self {
        Self { v: x, d: [0.0; N] }
    }
    #[inline]
    fn v(self) -> f64 {
        self.v
    }
    #[inline]
    fn sqrt(self) -> Self {
        let s = self.v.sqrt();
        self.chain(s, 0.5 / s)
    }
    #[inline]
    fn acos(self) -> Self {
        self.chain(self.v.acos(), -1.0 / (1.0 - self.v * self.v).sqrt())
    }
    #[inline]
    fn asin(self) -> Self {
        self.chain(self.v.asin(), 1.0 / (1.0 - self.v * self.v).sqrt())
    }
    #[inline]
    fn sin(self) -> Self {
        self.chain(self.v.sin(), self.v.cos())
    }
    #[inline]
    fn cos(self) -> Self {
        self.chain(self.v.cos(), -self.v.sin())
    }
    #[inline]
    fn with_v(self, v: f64) -> Self {
        Self { v, d: self.d }
    }
}

// Arithmetic of 3-vectors (`[T; 3]`) and 3x3 matrices (rows) on any [`Real`], for the routines
// written once for `f64` and dual numbers (tendon wrapping, the free bodies' bias derivative).

/// `a - b`.
#[inline]
pub fn sub<T: Real>(a: &[T; 3], b: &[T; 3]) -> [T; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// `a . b`.
#[inline]
pub fn dot<T: Real>(a: &[T; 3], b: &[T; 3]) -> T {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// `|a|`.
#[inline]
pub fn norm<T: Real>(a: &[T; 3]) -> T {
    dot(a, a).sqrt()
}

/// `a x b`.
#[inline]
pub fn cross<T: Real>(a: &[T; 3], b: &[T; 3]) -> [T; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// `s a`.
#[inline]
pub fn scale<T: Real>(a: &[T; 3], s: T) -> [T; 3] {
    a.map(|x| x * s)
}

/// `m x` for a matrix of rows `m`.
#[inline]
pub fn mat_vec<T: Real>(m: &[[T; 3]; 3], x: &[T; 3]) -> [T; 3] {
    [0, 1, 2].map(|i| dot(&m[i], x))
}

/// `m^T x` for a matrix of rows `m`.
#[inline]
pub fn mat_t_vec<T: Real>(m: &[[T; 3]; 3], x: &[T; 3]) -> [T; 3] {
    [0, 1, 2].map(|i| m[0][i] * x[0] + m[1][i] * x[1] + m[2][i] * x[2])
}
