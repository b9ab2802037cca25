//! Cholesky factorization of symmetric positive-definite matrices stored dense
//! (row-major, n x n), in place and allocation-free, skipping the zeros outside each row's envelope.

/// Factor `a = L L^T` in place (lower triangle holds L; the strict upper triangle is zeroed).
/// Returns false if the matrix is not positive definite. `start` is scratch (n entries once
/// warm: no allocation in the steady state).
pub fn factor(a: &mut [f64], n: usize, start: &mut Vec<usize>) -> bool {
    first_bad_pivot(a, n, start).is_none()
}

/// [`factor`], returning the index of the first pivot that is not positive (where the matrix
/// stops being positive definite), or `None` when the factorization succeeds.
///
/// Envelope (skyline) Cholesky: row i of L is zero before the first non-zero entry of row i of
/// `a`'s lower triangle (`start[i]`; Cholesky makes no fill outside that envelope), so each
/// dot product runs from the later of the two rows' starts and rows that start after column j
/// are skipped. The terms skipped are exact zeros: the factor equals the dense one (up to the
/// sign of zeros), at a cost of O(n b^2) for a matrix whose rows reach b entries left of the
/// diagonal (a chain of bodies: its depth in dofs; bodies in contact: how far apart their dofs
/// are numbered) instead of O(n^3).
#[inline]
pub fn first_bad_pivot(a: &mut [f64], n: usize, start: &mut Vec<usize>) -> Option<usize> {
    let a = &mut a[..n * n];
    start.clear();
    start.extend(
        a.chunks_exact(n)
            .enumerate()
            .map(|(i, r)| r[..i].iter().position(|x| *x != 0.0).unwrap_or(i)),
    );
    for j in 0..n {
        // rows j + 1.. read row j's entries start[j]..j and its diagonal
        let (head, tail) = a.split_at_mut((j + 1) * n);
        let row_j = &mut head[j * n..];
        let sj = start[j];
        let mut d = row_j[j];
        for x in &row_j[sj..j] {
            d -= x * x;
        }
        if !(d > 0.0) {
            return Some(j);
        }
        let d = d.sqrt();
        row_j[j] = d;
        let (lj, upper) = row_j.split_at_mut(j);
        for (row_i, &si) in tail.chunks_exact_mut(n).zip(&start[j + 1..]) {
            if si > j {
                continue; // outside the envelope: stays zero
            }
            let lo = si.max(sj);
            let mut s = row_i[j];
            for (x, y) in row_i[lo..j].iter().zip(&lj[lo..]) {
                s -= x * y;
            }
            row_i[j] = s / d;
        }
        upper[1..].iter_mut().for_each(|x| *x = 0.0);
    }
    None
}

/// Solve `L L^T x = b` in place (`b` becomes `x`), `L` and `start` as [`factor`] left them:
/// the substitutions skip the zeros outside each row's envelope (the dense sums without their
/// zero terms).
pub fn solve(l: &[f64], n: usize, start: &[usize], b: &mut [f64]) {
    let (l, b) = (&l[..n * n], &mut b[..n]);
    for i in 0..n {
        let s0 = start[i];
        let row = &l[i * n..i * n + i + 1];
        let mut s = b[i];
        for (x, y) in row[s0..i].iter().zip(&b[s0..i]) {
            s -= x * y;
        }
        b[i] = s / row[i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        // column i of L below the diagonal: l[k n + i], k = i + 1..n, non-zero where row k's
        // envelope reaches column i
        for k in i + 1..n {
            if start[k] <= i {
                s -= l[k * n + i] * b[k];
            }
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
        let (mut l, mut start) = (a0, Vec::new());
        assert!(factor(&mut l, 3, &mut start));
        let x = [0.3, -1.2, 2.5];
        let mut b = [0.0; 3];
        mul_vec(&a0, 3, &x, &mut b);
        solve(&l, 3, &start, &mut b);
        for i in 0..3 {
            assert!((b[i] - x[i]).abs() < 1e-14);
        }
    }

    /// The envelope factor equals the dense one bit for bit (but for the sign of zeros) on a
    /// matrix with rows of every start: an arrow, a band and dense rows.
    #[test]
    fn envelope_factor_equals_the_dense_one() {
        let n = 12;
        let mut a = vec![0.0; n * n];
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        // B B^T with B sparse below a band of 3, plus rows 9 and 11 coupled to row 0: SPD
        let mut b = vec![0.0; n * n];
        for i in 0..n {
            for k in i.saturating_sub(3)..=i {
                b[i * n + k] = rnd();
            }
            b[i * n + i] += 2.0;
        }
        b[9 * n] = 0.7;
        b[11 * n + 1] = -0.4;
        for i in 0..n {
            for k in 0..n {
                a[i * n + k] = (0..n).map(|m| b[i * n + m] * b[k * n + m]).sum();
            }
        }
        let mut dense = a.clone();
        let mut l = a.clone();
        assert!(factor(&mut l, n, &mut Vec::new()));
        for i in 0..n {
            for j in 0..=i {
                let mut s = dense[i * n + j];
                for k in 0..j {
                    s -= dense[i * n + k] * dense[j * n + k];
                }
                dense[i * n + j] = if i == j {
                    s.sqrt()
                } else {
                    s / dense[j * n + j]
                };
            }
            for j in i + 1..n {
                dense[i * n + j] = 0.0;
            }
        }
        for (x, y) in l.iter().zip(&dense) {
            assert!(x == y, "{x} vs {y}");
        }
    }

    #[test]
    fn rejects_indefinite() {
        let mut a = [1.0, 2.0, 2.0, 1.0];
        assert!(!factor(&mut a, 2, &mut Vec::new()));
    }
}
