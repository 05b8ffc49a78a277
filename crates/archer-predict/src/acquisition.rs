//! Acquisition functions: how much a candidate is worth evaluating, given a prediction.

use archer_rng::Rng;
use archer_strategy::AcquisitionKind;

use crate::Prediction;

/// Standard normal density.
fn pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal distribution function, via the complementary error function
/// (Numerical Recipes' `erfcc`, fractional error below 1.2e-7 everywhere).
fn cdf(z: f64) -> f64 {
    let x = -z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    let erfc = if x >= 0.0 { erfc } else { 2.0 - erfc };
    0.5 * erfc
}

/// Expected improvement of a maximisation over `best`.
pub fn expected_improvement(p: Prediction, best: f64) -> f64 {
    let gain = p.mean - best;
    if p.std <= 1e-12 {
        return gain.max(0.0);
    }
    let z = gain / p.std;
    gain * cdf(z) + p.std * pdf(z)
}

/// Scores every prediction; higher is more worth evaluating. `best` is the best observed
/// value; `rng` is used only by Thompson sampling.
pub fn acquire(
    kind: AcquisitionKind,
    predictions: &[Prediction],
    best: f64,
    ucb_beta: f64,
    rng: &mut Rng,
) -> Vec<f64> {
    predictions
        .iter()
        .map(|&p| match kind {
            AcquisitionKind::Ei => expected_improvement(p, best),
            AcquisitionKind::Ucb => p.mean + ucb_beta * p.std,
            AcquisitionKind::Its => p.mean + p.std * rng.normal(),
            AcquisitionKind::Mean => p.mean,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_known_values() {
        for (z, want) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746),
            (-1.0, 0.158_655_254),
            (1.96, 0.975_002_105),
            (-3.0, 0.001_349_898),
        ] {
            assert!((cdf(z) - want).abs() < 1e-6, "cdf({z}) = {}", cdf(z));
        }
    }

    #[test]
    fn expected_improvement_prefers_mean_and_uncertainty() {
        let ei = |mean, std| expected_improvement(Prediction { mean, std }, 1.0);
        assert_eq!(ei(0.5, 0.0), 0.0);
        assert!((ei(1.5, 0.0) - 0.5).abs() < 1e-12);
        assert!(ei(1.2, 0.1) > ei(1.1, 0.1));
        assert!(ei(0.9, 0.5) > ei(0.9, 0.1));
        // At mean == best, EI = std · φ(0).
        assert!((ei(1.0, 0.2) - 0.2 * pdf(0.0)).abs() < 1e-9);
    }
}
