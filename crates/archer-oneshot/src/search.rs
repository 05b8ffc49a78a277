//! The search steps: first-order DARTS (Liu et al. 2019) and GDAS (Dong & Yang 2019) on a
//! supernet, α by [`Adam`] on a validation batch, the weights by `archer-train`'s SGD on a
//! training batch.

use archer_train::sgd::Sgd;
use tch::{Kind, Tensor};

use crate::{gdas_weights, Adam, Mixing, Nb201Supernet, OneShotError};

/// A batch: images and labels.
pub type Batch<'a> = (&'a Tensor, &'a Tensor);

/// The losses of one search step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLosses {
    /// The α-step's validation loss.
    pub arch: f64,
    /// The w-step's training loss.
    pub weights: f64,
}

fn finite(which: &'static str, loss: &Tensor, step: u64) -> Result<f64, OneShotError> {
    let v = loss.double_value(&[]);
    if v.is_finite() {
        Ok(v)
    } else {
        Err(OneShotError::Diverged {
            which,
            loss: v,
            step,
        })
    }
}

/// The α gradient of `loss` alone (no weight gradient is made), into Adam.
fn arch_step(net: &Nb201Supernet, adam: &mut Adam, loss: &Tensor) {
    let grad = Tensor::run_backward(&[loss], &[&net.alpha], false, false);
    adam.step(&net.alpha, &grad[0]);
}

/// The weights' step on `loss`: gradients, clipping to `grad_clip` (0: none), SGD at `lr`.
fn weight_step(sgd: &mut Sgd, loss: &Tensor, lr: f64, grad_clip: f64) {
    sgd.zero_grad();
    loss.backward();
    if grad_clip > 0.0 {
        sgd.clip_grad_norm(grad_clip);
    }
    sgd.set_lr(lr);
    sgd.step();
}

/// One step of first-order DARTS: α on `valid` with every edge mixed by `softmax(α)`, then the
/// weights on `train` with α fixed. `step` numbers the step, for errors.
#[allow(clippy::too_many_arguments)]
pub fn darts_step(
    net: &Nb201Supernet,
    adam: &mut Adam,
    sgd: &mut Sgd,
    train: Batch,
    valid: Batch,
    lr: f64,
    grad_clip: f64,
    step: u64,
) -> Result<StepLosses, OneShotError> {
    let soft = |weights: &Tensor| -> Tensor {
        let rows: Vec<Tensor> = (0..weights.size()[0]).map(|e| weights.get(e)).collect();
        let mixing: Vec<Mixing> = rows.iter().map(Mixing::Soft).collect();
        net.forward_t(valid.0, &mixing, true)
            .cross_entropy_for_logits(valid.1)
    };
    let weights = net.alpha.softmax(-1, Kind::Float);
    let arch_loss = soft(&weights);
    let arch = finite("architecture", &arch_loss, step)?;
    arch_step(net, adam, &arch_loss);
    let weights = net.alpha.softmax(-1, Kind::Float).detach();
    let rows: Vec<Tensor> = (0..weights.size()[0]).map(|e| weights.get(e)).collect();
    let mixing: Vec<Mixing> = rows.iter().map(Mixing::Soft).collect();
    let loss = net
        .forward_t(train.0, &mixing, true)
        .cross_entropy_for_logits(train.1);
    let w = finite("weights", &loss, step)?;
    weight_step(sgd, &loss, lr, grad_clip);
    Ok(StepLosses { arch, weights: w })
}

/// Gumbel noise like `alpha`, from libtorch's generator: −log(Exp(1)).
fn gumbel_like(alpha: &Tensor) -> Tensor {
    -alpha.empty_like().exponential_(1.0).log()
}

/// The hard Gumbel-softmax mixing of one forward pass at temperature `tau`: noise is drawn
/// again (up to 10 times) when it gives a non-finite weight, as AutoDL-Projects does.
fn gdas_mixing(alpha: &Tensor, tau: f64) -> Result<(Tensor, Vec<usize>), OneShotError> {
    for _ in 0..10 {
        let noise = tch::no_grad(|| gumbel_like(alpha));
        let (hard, chosen) = gdas_weights(alpha, &noise, tau);
        if bool::try_from(hard.isfinite().all()).unwrap_or(false) {
            return Ok((hard, chosen));
        }
    }
    Err(OneShotError::Setting(format!(
        "the Gumbel-softmax at temperature {tau} gave non-finite weights 10 times"
    )))
}

/// One step of GDAS: the weights on `train`, then α on `valid`, each forward pass with its
/// own hard sample at temperature `tau` (only the sampled operation of each edge is
/// computed).
#[allow(clippy::too_many_arguments)]
pub fn gdas_step(
    net: &Nb201Supernet,
    adam: &mut Adam,
    sgd: &mut Sgd,
    train: Batch,
    valid: Batch,
    tau: f64,
    lr: f64,
    grad_clip: f64,
    step: u64,
) -> Result<StepLosses, OneShotError> {
    let forward = |batch: Batch, hard: &Tensor, chosen: &[usize]| -> Tensor {
        let rows: Vec<Tensor> = (0..hard.size()[0]).map(|e| hard.get(e)).collect();
        let mixing: Vec<Mixing> = rows
            .iter()
            .zip(chosen)
            .map(|(weights, &index)| Mixing::Hard { weights, index })
            .collect();
        net.forward_t(batch.0, &mixing, true)
            .cross_entropy_for_logits(batch.1)
    };
    let (hard, chosen) = gdas_mixing(&net.alpha, tau)?;
    let loss = forward(train, &hard.detach(), &chosen);
    let w = finite("weights", &loss, step)?;
    weight_step(sgd, &loss, lr, grad_clip);
    let (hard, chosen) = gdas_mixing(&net.alpha, tau)?;
    let arch_loss = forward(valid, &hard, &chosen);
    let arch = finite("architecture", &arch_loss, step)?;
    arch_step(net, adam, &arch_loss);
    Ok(StepLosses { arch, weights: w })
}

/// GDAS's temperature at `epoch` of `epochs`: linear from `tau_max` down to `tau_min`.
pub fn gdas_tau(epoch: u32, epochs: u32, tau_max: f64, tau_min: f64) -> f64 {
    if epochs <= 1 {
        return tau_min;
    }
    tau_max - (tau_max - tau_min) * f64::from(epoch) / f64::from(epochs - 1)
}

/// One step of single-path training (RSPS, SPOS): only `arch`'s operations, on `train`.
pub fn single_path_step(
    net: &Nb201Supernet,
    sgd: &mut Sgd,
    train: Batch,
    arch: &archer_space::Arch,
    lr: f64,
    grad_clip: f64,
    step: u64,
) -> Result<f64, OneShotError> {
    let mixing = net.single_path(arch)?;
    let loss = net
        .forward_t(train.0, &mixing, true)
        .cross_entropy_for_logits(train.1);
    let w = finite("weights", &loss, step)?;
    weight_step(sgd, &loss, lr, grad_clip);
    Ok(w)
}
