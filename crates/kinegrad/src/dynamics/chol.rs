//! Dense Cholesky factorization of small symmetric positive-definite matrices
//! (row-major, n x n), in place and allocation-free.

/// Factor `a = L L^T` in place (lower triangle holds L; the strict upper triangle is zeroed).
/// Returns false if the matrix is not positive definite.
pub fn factor(a: &mut [f64], n: usize) -> bool {
    first_bad_pivot(a, n).is_none()
}

/// [`factor`], returning the index of the first pivot that is not positive (where the matrix
/// stops being positive definite), or `None` when the factorization succeeds.
#[inline]
pub fn first_bad_pivot(a: &mut [f64], n: usize) -> Option<usize> {
    let a = &mut a[..n * n];
    for j in 0..n {
        // rows j + 1.. read row j's first j entries and its diagonal
        let (head, tail) = a.split_at_mut((j + 1) * n);
        let row_j = &mut head[j * n..];
        let mut d = row_j[j];
        for x in &row_j[..j] {
            d -= x * x;
        }
        if !(d > 0.0) {
            return Some(j);
        }
        let d = d.sqrt();
        row_j[j] = d;
        let (lj, upper) = row_j.split_at_mut(j);
        for row_i in tail.chunks_exact_mut(n) {
            let mut s = row_i[j];
            for (x, y) in row_i[..j].iter().zip(&*lj) {
                s -= x * y;
            }
            row_i[j] = s / d;
        }
        upper[1..].iter_mut().for_each(|x| *x = 0.0);
    }
    None
}

/// Solve `L L^T x = b` in place (`b` becomes `x`).
pub fn solve(l: &[f64], n: usize, b: &mut [f64]) {
    let (l, b) = (&l[..n * n], &mut b[..n]);
    for i in 0..n {
        let row = &l[i * n..i * n + i + 1];
        let mut s = b[i];
        for (x, y) in row[..i].iter().zip(&b[..i]) {
            s -= x * y;
        }
        b[i] = s / row[i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        // column i of L below the diagonal: l[k n + i], k = i + 1..n
        let col = l[i * n + i..].chunks(n).skip(1);
        for (x, y) in col.zip(&b[i + 1..]) {
            s -= x[0] * y;
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
