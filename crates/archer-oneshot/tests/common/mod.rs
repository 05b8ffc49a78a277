//! Gradient checks shared by the supernet tests.
#![allow(dead_code)] // each test binary uses part of it

use archer_oneshot::Supernet;
use tch::Tensor;

/// `f(α)`'s derivative along α's entries 0, 3, the middle one and the last against central
/// differences of `g(α)` (`f` itself unless a straight-through estimator makes `f`'s
/// gradient that of a surrogate).
pub fn check_alpha(name: &str, net: &Supernet, f: &dyn Fn() -> Tensor, g: &dyn Fn() -> Tensor) {
    let n = net.alpha.numel() as i64;
    check_alpha_at(name, net, f, g, &[0, 3, n / 2, n - 1]);
}

/// As [`check_alpha`], at α's flat entries `at`.
pub fn check_alpha_at(
    name: &str,
    net: &Supernet,
    f: &dyn Fn() -> Tensor,
    g: &dyn Fn() -> Tensor,
    at: &[i64],
) {
    let loss = f();
    let grad = Tensor::run_backward(&[&loss], &[&net.alpha], false, false)
        .remove(0)
        .view([-1]);
    for &k in at {
        let analytic = grad.double_value(&[k]);
        let numeric = central_difference(&net.alpha.view([-1]).narrow(0, k, 1), g);
        let tol = 1e-6 + 1e-4 * numeric.abs().max(analytic.abs());
        assert!(
            (analytic - numeric).abs() <= tol,
            "{name}: dα[{k}]: backward {analytic}, finite difference {numeric}"
        );
    }
}

/// The derivative of `g()` along the one-element view `entry` of a variable, by central
/// differences with a step of 1e-6 (double precision); the entry is put back.
pub fn central_difference(entry: &Tensor, g: &dyn Fn() -> Tensor) -> f64 {
    tch::no_grad(|| {
        let mut e = entry.shallow_clone();
        let eps = 1e-6;
        let _ = e.f_add_scalar_(eps).unwrap();
        let plus = g().double_value(&[]);
        let _ = e.f_add_scalar_(-2.0 * eps).unwrap();
        let minus = g().double_value(&[]);
        let _ = e.f_add_scalar_(eps).unwrap();
        (plus - minus) / (2.0 * eps)
    })
}

/// The `train` evaluator's settings on the bundled MNIST subset: half the training images
/// for the weights (`data_fraction` of them), half for α and scoring; one thread.
pub fn mnist_train(data_fraction: f64) -> archer_eval::TrainSettings {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-small");
    toml::from_str(&format!(
        r#"
        valid_fraction = 0.5
        data_fraction = {data_fraction}
        data = {{ format = "idx", dir = "{}" }}
        training = {{ threads = 1 }}
        "#,
        dir.display()
    ))
    .unwrap()
}

/// Small one-shot settings for `method`: the JSON fields `base` (without braces), then the
/// method's own at a test's size (RSPS's and ENAS's candidates, SPOS's evolution, ENAS's
/// controller).
pub fn small_settings(method: &str, base: &str) -> archer_oneshot::OneShotSettings {
    let own = match method {
        "rsps" => r#", "candidates": 4"#,
        "enas" => {
            r#", "candidates": 4,
               "controller": { "hidden": 8, "layers": 1, "train_steps": 2, "aggregate": 3 }"#
        }
        "spos" => {
            r#", "evolution": { "population": 4, "generations": 1, "top_k": 2,
                                "mutations": 2, "crossovers": 2 }"#
        }
        _ => "",
    };
    serde_json::from_str(&format!("{{ {base} {own} }}")).unwrap()
}

/// The chosen architecture, built as an ordinary network of the supernet's size, was trained
/// and timed: its step time and the supernet's step over it are recorded.
pub fn assert_single_network_measured(outcome: &archer_oneshot::Outcome, method: &str) {
    let (single, ratio) = (
        outcome.metrics["single_step_ms"],
        outcome.metrics["step_ratio"],
    );
    assert!(
        single > 0.0 && ratio.is_finite() && ratio > 0.0,
        "{method}: {single} ms, {ratio}"
    );
}
