//! Target transforms applied before fitting a predictor inside a search.

/// Inverse of the standard normal distribution function (Acklam's rational approximation,
/// relative error below 1.2e-9), for `p` in (0, 1).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    if p < LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

/// The Gaussian copula transform (as in Salinas et al. 2020): each target becomes
/// Φ⁻¹((rank + ½) / n), ties sharing their mean rank. It keeps the order and removes the
/// scale, so a few diverged architectures (10% accuracy among 90% ones) do not dominate a
/// model's fit.
pub fn gaussian_copula(targets: &[f64]) -> Vec<f64> {
    let n = targets.len() as f64;
    archer_core::ranks::mean_ranks(targets)
        .into_iter()
        .map(|rank| normal_quantile((rank + 0.5) / n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_inverts_known_values() {
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959_963_985),
            (0.01, -2.326_347_874),
            (0.999, 3.090_232_306),
        ] {
            assert!((normal_quantile(p) - z).abs() < 1e-7, "Φ⁻¹({p})");
        }
    }

    #[test]
    fn copula_keeps_order_and_ties() {
        let t = gaussian_copula(&[90.0, 10.0, 91.0, 90.0]);
        assert!(t[1] < t[0] && t[0] < t[2]);
        assert_eq!(t[0], t[3]);
        // Symmetric around 0.
        assert!((t[1] + t[2]).abs() < 1e-12);
    }
}
