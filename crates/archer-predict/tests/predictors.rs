//! Every predictor learns a smooth function of the architecture, deterministically, and
//! refuses bad input with a named error.

use std::collections::HashSet;
use std::sync::Arc;

use archer_core::Arch;
use archer_predict::{build_predictor, kendall_tau, GaussianProcess, PredictError, Predictor};
use archer_rng::Rng;
use archer_space::{Nb201Space, SearchSpace};
use archer_strategy::{GpKernel, PredictorConfig};

fn space() -> Arc<dyn SearchSpace> {
    Arc::new(Nb201Space::default())
}

/// Distinct random cells (by canonical hash).
fn cells(n: usize, seed: u64) -> Vec<Arch> {
    let s = space();
    let mut rng = Rng::seed_from(seed);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    while out.len() < n {
        let a = s.sample(&mut rng).unwrap();
        if seen.insert(s.canonical_hash(&a)) {
            out.push(a);
        }
    }
    out
}

/// Like NB201 accuracy: 3×3 convolutions help, `none` hurts, the last edge matters most.
fn truth(a: &Arch) -> f64 {
    let conv = a.indices().iter().filter(|&&c| c == 3).count() as f64;
    let none = a.indices().iter().filter(|&&c| c == 0).count() as f64;
    80.0 + 2.0 * conv - 3.0 * none + if a.index(5) == 3 { 4.0 } else { 0.0 }
}

fn has_prior(config: &PredictorConfig) -> bool {
    matches!(config, PredictorConfig::Mlp { prior_scale, .. } if *prior_scale > 0.0)
}

fn all_predictors() -> Vec<PredictorConfig> {
    let mut all: Vec<PredictorConfig> = ["gp", "gp_path", "gp_wl", "mlp", "forest"]
        .iter()
        .map(|n| PredictorConfig::by_name(n).unwrap())
        .collect();
    all.push(PredictorConfig::mlp_with_prior(1.0));
    all
}

#[test]
fn every_predictor_ranks_held_out_cells() {
    let archs = cells(400, 1);
    let (train, test) = archs.split_at(100);
    let y: Vec<f64> = train.iter().map(truth).collect();
    let want: Vec<f64> = test.iter().map(truth).collect();
    for config in all_predictors() {
        let mut p = build_predictor(&config, space());
        p.fit(train, &y, &mut Rng::seed_from(7)).unwrap();
        let got = p.predict(test).unwrap();
        assert_eq!(got.len(), test.len());
        assert!(got.iter().all(|g| g.mean.is_finite() && g.std >= 0.0));
        let mean: Vec<f64> = got.iter().map(|g| g.mean).collect();
        let tau = kendall_tau(&mean, &want);
        // Random priors trade some of the mean's accuracy for spread away from the data
        // (0.45 here, against 0.5 and more for the others).
        let bound = if has_prior(&config) { 0.4 } else { 0.5 };
        assert!(tau > bound, "{}: Kendall tau {tau}", config.label());
    }
}

#[test]
fn fitting_is_deterministic_given_the_generator() {
    let archs = cells(80, 2);
    let y: Vec<f64> = archs.iter().map(truth).collect();
    let probe = cells(20, 3);
    for config in all_predictors() {
        let predict = |seed| {
            let mut p = build_predictor(&config, space());
            p.fit(&archs, &y, &mut Rng::seed_from(seed)).unwrap();
            p.predict(&probe).unwrap()
        };
        assert_eq!(predict(5), predict(5), "{}", config.label());
    }
}

#[test]
fn gp_is_sure_where_it_has_data_and_unsure_far_away() {
    let archs = cells(30, 4);
    let y: Vec<f64> = archs.iter().map(truth).collect();
    let mut gp = GaussianProcess::new(space(), GpKernel::ExpHamming);
    gp.fit(&archs, &y, &mut Rng::seed_from(0)).unwrap();
    let hp = gp.hyperparameters().unwrap();
    assert!(hp.log_marginal_likelihood.is_finite() && hp.length_scale > 0.0);
    let seen = gp.predict(&archs[..5]).unwrap();
    for (p, a) in seen.iter().zip(&archs) {
        assert!((p.mean - truth(a)).abs() < 2.0, "{p:?} vs {}", truth(a));
    }
    // A cell at Hamming distance 4 or more from every training cell is far.
    let far: Vec<Arch> = cells(2000, 5)
        .into_iter()
        .filter(|c| {
            archs.iter().all(|a| {
                a.indices()
                    .iter()
                    .zip(&c.indices())
                    .filter(|(x, y)| x != y)
                    .count()
                    >= 4
            })
        })
        .take(3)
        .collect();
    assert!(!far.is_empty());
    let far_std = gp.predict(&far).unwrap()[0].std;
    assert!(
        far_std > 2.0 * seen[0].std,
        "far {far_std} vs seen {}",
        seen[0].std
    );
}

/// Mean predicted std over `archs`.
fn mean_spread(p: &dyn Predictor, archs: &[Arch]) -> f64 {
    let got = p.predict(archs).unwrap();
    got.iter().map(|g| g.std).sum::<f64>() / got.len() as f64
}

#[test]
fn a_random_prior_widens_the_ensemble_away_from_its_data() {
    // Training cells all share their last two edges (3×3 convolutions): the rest of the
    // space is far from the data.
    let archs: Vec<Arch> = cells(2000, 10)
        .into_iter()
        .filter(|a| a.index(4) == 3 && a.index(5) == 3)
        .take(30)
        .collect();
    assert_eq!(archs.len(), 30);
    let y: Vec<f64> = archs.iter().map(truth).collect();
    // Differing on both last edges puts a cell at distance 2 or more from every one of them.
    let far: Vec<Arch> = cells(400, 11)
        .into_iter()
        .filter(|a| a.index(4) != 3 && a.index(5) != 3)
        .take(50)
        .collect();
    let spread_ratio = |prior_scale: f64| {
        let config = PredictorConfig::mlp_with_prior(prior_scale);
        let mut p = build_predictor(&config, space());
        p.fit(&archs, &y, &mut Rng::seed_from(3)).unwrap();
        mean_spread(p.as_ref(), &far) / mean_spread(p.as_ref(), &archs)
    };
    let (plain, with_prior) = (spread_ratio(0.0), spread_ratio(1.0));
    assert!(
        with_prior > 1.5 && with_prior > plain,
        "far/seen spread: {with_prior} with a prior, {plain} without"
    );
}

#[test]
fn bad_input_gets_a_named_error() {
    let archs = cells(10, 6);
    for config in all_predictors() {
        let mut p = build_predictor(&config, space());
        let name = config.label();
        assert!(
            matches!(p.predict(&archs), Err(PredictError::NotFitted { .. })),
            "{name}"
        );
        let err = p
            .fit(&archs, &[1.0; 9], &mut Rng::seed_from(0))
            .unwrap_err();
        assert!(
            matches!(err, PredictError::LengthMismatch { .. }),
            "{name}: {err}"
        );
        let mut y = vec![1.0; 10];
        y[4] = f64::NAN;
        let err = p.fit(&archs, &y, &mut Rng::seed_from(0)).unwrap_err();
        assert!(err.to_string().contains("target 4 is NaN"), "{name}: {err}");
        let err = p.fit(&[], &[], &mut Rng::seed_from(0)).unwrap_err();
        assert!(
            matches!(err, PredictError::TooFewPoints { .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_constant_target_is_predicted_as_that_constant() {
    let archs = cells(30, 8);
    let y = vec![42.0; 30];
    for config in all_predictors() {
        let mut p = build_predictor(&config, space());
        p.fit(&archs, &y, &mut Rng::seed_from(0)).unwrap();
        for got in p.predict(&cells(5, 9)).unwrap() {
            assert!(
                (got.mean - 42.0).abs() < 0.01,
                "{}: {got:?}",
                config.label()
            );
        }
    }
}
