//! Dense Cholesky factorization of small symmetric positive-definite matrices
//! (row-major, n x n), in place and allocation-free.

/// Factor `a = L L^T` in place (lower triangle holds L; the strict upper triangle is zeroed).
/// Returns false if the matrix is not positive definite.
pub fn factor(a: &mut [f64], n: usize) -> bool {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if !(d > 0.0) {
            return false;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
        for i in j + 1..n {
            a[j * n + i] = 0.0;
        }
    }
    true
}

/// Solve `L L^T x = b` in place (`b` becomes `x`).
pub fn solve(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[k * n + i] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
}

/// `y = A x` for a dense row-major n x n matrix.
pub fn mul_vec(a: &[f64], n: usize, x: &[f64], y: &mut [f64]) {
    for i in 0..n {
        let row = &a[i * n..(i + 1) * n];
        y[i] = row.iter().zip(x).map(|(a, b)| a * b).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_spd_system() {
        let a0 = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let mut l = a0;
        assert!(factor(&mut l, 3));
        let x = [0.3, -1.2, 2.5];
        let mut b = [0.0; 3];
        mul_vec(&a0, 3, &x, &mut b);
        solve(&l, 3, &mut b);
        for i in 0..3 {
            assert!((b[i] - x[i]).abs() < 1e-14);
        }
    }

    #[test]
    fn rejects_indefinite() {
        let mut a = [1.0, 2.0, 2.0, 1.0];
        assert!(!factor(&mut a, 2));
    }
}
