//! Comparing numbers that must agree: one tier against another, or webtune against the
//! reference implementation's fixtures.
//!
//! Two values agree when `|a - b| <= atol + rtol * |b|` (NumPy's `allclose`, with `b` the
//! reference). A disagreement names the quantity, the first failing index and both values.

use serde::Serialize;

/// The first place where two sequences of numbers disagree.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Mismatch {
    /// The sequences differ in length.
    #[error("`{what}`: {left} values against {right} in the reference")]
    Length {
        /// What was compared.
        what: String,
        /// Length of the checked sequence.
        left: usize,
        /// Length of the reference.
        right: usize,
    },
    /// A value is outside tolerance (or not finite).
    #[error(
        "`{what}`[{index}] = {value} but the reference has {reference} \
         (|Δ| = {abs_diff:e}, allowed {allowed:e})"
    )]
    Value {
        /// What was compared.
        what: String,
        /// Index of the first failing element.
        index: usize,
        /// The checked value.
        value: f32,
        /// The reference value.
        reference: f32,
        /// `|value - reference|`.
        abs_diff: f32,
        /// The tolerance at that element.
        allowed: f32,
    },
}

/// How closely two sequences agreed.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Agreement {
    /// Largest `|a - b|`.
    pub max_abs_diff: f32,
    /// Largest `|a - b| / max(|b|, 1e-12)`.
    pub max_rel_diff: f32,
}

impl Agreement {
    /// The worse of two agreements, element by element.
    pub fn worst(self, other: Self) -> Self {
        Self {
            max_abs_diff: self.max_abs_diff.max(other.max_abs_diff),
            max_rel_diff: self.max_rel_diff.max(other.max_rel_diff),
        }
    }
}

/// Tolerances for [`compare`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tolerance {
    /// Absolute tolerance.
    pub atol: f32,
    /// Relative tolerance, scaled by the reference value.
    pub rtol: f32,
}

impl Tolerance {
    /// An absolute and a relative tolerance.
    pub const fn new(atol: f32, rtol: f32) -> Self {
        Self { atol, rtol }
    }
}

/// Checks that `values` agree with `reference` element by element.
///
/// ```
/// use webtune::numerics::{compare, Tolerance};
/// let ok = compare("x", &[1.0, 2.0], &[1.0, 2.0001], Tolerance::new(1e-3, 0.0)).unwrap();
/// assert!(ok.max_abs_diff < 2e-4);
/// assert!(compare("x", &[1.0], &[1.5], Tolerance::new(1e-3, 0.0)).is_err());
/// assert!(compare("x", &[f32::NAN], &[0.0], Tolerance::new(1.0, 1.0)).is_err());
/// ```
pub fn compare(
    what: &str,
    values: &[f32],
    reference: &[f32],
    tol: Tolerance,
) -> Result<Agreement, Mismatch> {
    if values.len() != reference.len() {
        return Err(Mismatch::Length {
            what: what.to_string(),
            left: values.len(),
            right: reference.len(),
        });
    }
    let mut agreement = Agreement::default();
    for (index, (&value, &expected)) in values.iter().zip(reference).enumerate() {
        let abs_diff = (value - expected).abs();
        let allowed = tol.atol + tol.rtol * expected.abs();
        // A NaN anywhere (value, reference or tolerance) fails.
        if abs_diff.is_nan() || allowed.is_nan() || abs_diff > allowed {
            return Err(Mismatch::Value {
                what: what.to_string(),
                index,
                value,
                reference: expected,
                abs_diff,
                allowed,
            });
        }
        agreement.max_abs_diff = agreement.max_abs_diff.max(abs_diff);
        agreement.max_rel_diff = agreement
            .max_rel_diff
            .max(abs_diff / expected.abs().max(1e-12));
    }
    Ok(agreement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_names_the_first_failing_index_and_both_values() {
        let err = compare(
            "w",
            &[1.0, 2.0, 9.0, 9.0],
            &[1.0, 2.0, 3.0, 4.0],
            Tolerance::new(0.1, 0.0),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`w`[2] = 9 but the reference has 3 (|Δ| = 6e0, allowed 1e-1)"
        );
    }

    #[test]
    fn relative_tolerance_scales_with_the_reference() {
        let tol = Tolerance::new(0.0, 1e-3);
        assert!(compare("big", &[1000.5], &[1000.0], tol).is_ok());
        assert!(compare("small", &[1.5], &[1.0], tol).is_err());
    }

    #[test]
    fn length_and_infinities_are_mismatches() {
        let tol = Tolerance::new(1.0, 1.0);
        assert!(matches!(
            compare("n", &[1.0], &[1.0, 2.0], tol),
            Err(Mismatch::Length { .. })
        ));
        assert!(compare("inf", &[f32::INFINITY], &[f32::INFINITY], tol).is_err());
    }
}
