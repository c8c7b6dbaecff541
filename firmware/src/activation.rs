//! Element-wise activations.

/// `x = max(0, x)` in place. NaN stays NaN (it cannot arise from a checked model and `u8`
/// input; `f32` inputs are checked before use).
#[inline]
pub fn relu(values: &mut [f32]) {
    for v in values {
        if *v < 0.0 {
            *v = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn relu_clamps_negatives_only() {
        let mut v = [-2.0, -0.0, 0.0, 0.5, 3.0];
        super::relu(&mut v);
        assert_eq!(v, [0.0, -0.0, 0.0, 0.5, 3.0]);
    }
}
