//! The search steps: first-order DARTS (Liu et al. 2019) and GDAS (Dong & Yang 2019) on a
//! supernet, α by [`Adam`] on a validation batch, the weights by `archer-train`'s SGD on a
//! training batch.

use archer_train::sgd::Sgd;
use tch::Tensor;

use crate::{gdas_weights, Adam, Mixing, OneShotError, Supernet};

/// A batch: images and labels.
pub type Batch<'a> = (&'a Tensor, &'a Tensor);

/// The losses of one search step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLosses {
    /// The α-step's validation loss (`None`: the step had none, as in warm-up and for
    /// single-path methods).
    pub arch: Option<f64>,
    /// The w-step's training loss.
    pub weights: f64,
}

impl StepLosses {
    /// A step that trained the weights only.
    pub fn weights_only(weights: f64) -> Self {
        StepLosses {
            arch: None,
            weights,
        }
    }
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
fn arch_step(net: &Supernet, adam: &mut Adam, loss: &Tensor) {
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
    net: &Supernet,
    adam: &mut Adam,
    sgd: &mut Sgd,
    train: Batch,
    valid: Batch,
    lr: f64,
    grad_clip: f64,
    step: u64,
) -> Result<StepLosses, OneShotError> {
    let softmax = |a: &Tensor| a.softmax(-1, a.kind());
    let mixing = SoftMixing {
        weights: &softmax,
        penalty: None,
    };
    soft_mixing_step(net, adam, sgd, train, valid, &mixing, lr, grad_clip, step)
}

/// How a method mixes every edge's candidates: the mixing weights (edges × candidates) as a
/// differentiable function of α, drawn afresh at every call by a sampling method (SNAS's
/// relaxed Gumbel-softmax, DrNAS's Dirichlet), and a regulariser added to the α loss.
pub struct SoftMixing<'a> {
    pub weights: &'a dyn Fn(&Tensor) -> Tensor,
    pub penalty: Option<&'a dyn Fn(&Tensor) -> Tensor>,
}

/// One step of a method that mixes every edge (DARTS first order, SNAS, DrNAS): α on `valid`
/// under `mixing.weights(α)` plus the penalty, then the weights on `train` under a draw with α
/// out of the graph.
#[allow(clippy::too_many_arguments)]
pub fn soft_mixing_step(
    net: &Supernet,
    adam: &mut Adam,
    sgd: &mut Sgd,
    train: Batch,
    valid: Batch,
    mixing: &SoftMixing,
    lr: f64,
    grad_clip: f64,
    step: u64,
) -> Result<StepLosses, OneShotError> {
    let arch_loss = mixed_loss(net, valid, &(mixing.weights)(&net.alpha));
    let arch = finite("architecture", &arch_loss, step)?;
    let arch_loss = match mixing.penalty {
        Some(penalty) => arch_loss + penalty(&net.alpha),
        None => arch_loss,
    };
    arch_step(net, adam, &arch_loss);
    let weights = soft_weight_step(net, sgd, train, mixing, lr, grad_clip, step)?;
    Ok(StepLosses {
        arch: Some(arch),
        weights,
    })
}

/// The weights' step of the soft-mixing methods: `train` under `mixing.weights` of α held
/// fixed. Returns the training loss.
pub(crate) fn soft_weight_step(
    net: &Supernet,
    sgd: &mut Sgd,
    train: Batch,
    mixing: &SoftMixing,
    lr: f64,
    grad_clip: f64,
    step: u64,
) -> Result<f64, OneShotError> {
    let loss = mixed_loss(net, train, &(mixing.weights)(&net.alpha.detach()));
    let w = finite("weights", &loss, step)?;
    weight_step(sgd, &loss, lr, grad_clip);
    Ok(w)
}

/// The weights' step of both DARTS orders: `train` with every edge mixed by `softmax(α)`, α
/// held fixed. Returns the training loss.
pub(crate) fn fixed_alpha_weight_step(
    net: &Supernet,
    sgd: &mut Sgd,
    train: Batch,
    lr: f64,
    grad_clip: f64,
    step: u64,
) -> Result<f64, OneShotError> {
    let softmax = |a: &Tensor| a.softmax(-1, a.kind());
    let mixing = SoftMixing {
        weights: &softmax,
        penalty: None,
    };
    soft_weight_step(net, sgd, train, &mixing, lr, grad_clip, step)
}

/// Gumbel noise like `alpha`, from libtorch's generator: −log(Exp(1)).
pub(crate) fn gumbel_like(alpha: &Tensor) -> Tensor {
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

/// One forward pass of `batch` under GDAS's hard mixing `(hard, chosen)`: its loss.
fn gdas_loss(net: &Supernet, batch: Batch, hard: &Tensor, chosen: &[usize]) -> Tensor {
    let rows: Vec<Tensor> = (0..hard.size()[0]).map(|e| hard.get(e)).collect();
    let mixing: Vec<Mixing> = rows
        .iter()
        .zip(chosen)
        .map(|(weights, &index)| Mixing::Hard { weights, index })
        .collect();
    net.forward_t(batch.0, &mixing, true)
        .cross_entropy_for_logits(batch.1)
}

/// GDAS's weight half-step: `train` under its own hard sample at temperature `tau` (α out
/// of the graph). Returns the training loss.
pub(crate) fn gdas_weight_step(
    net: &Supernet,
    sgd: &mut Sgd,
    train: Batch,
    tau: f64,
    lr: f64,
    grad_clip: f64,
    step: u64,
) -> Result<f64, OneShotError> {
    let (hard, chosen) = gdas_mixing(&net.alpha, tau)?;
    let loss = gdas_loss(net, train, &hard.detach(), &chosen);
    let w = finite("weights", &loss, step)?;
    weight_step(sgd, &loss, lr, grad_clip);
    Ok(w)
}

/// One step of GDAS: the weights on `train`, then α on `valid`, each forward pass with its
/// own hard sample at temperature `tau` (only the sampled operation of each edge is
/// computed).
#[allow(clippy::too_many_arguments)]
pub fn gdas_step(
    net: &Supernet,
    adam: &mut Adam,
    sgd: &mut Sgd,
    train: Batch,
    valid: Batch,
    tau: f64,
    lr: f64,
    grad_clip: f64,
    step: u64,
) -> Result<StepLosses, OneShotError> {
    let w = gdas_weight_step(net, sgd, train, tau, lr, grad_clip, step)?;
    let (hard, chosen) = gdas_mixing(&net.alpha, tau)?;
    let arch_loss = gdas_loss(net, valid, &hard, &chosen);
    let arch = finite("architecture", &arch_loss, step)?;
    arch_step(net, adam, &arch_loss);
    Ok(StepLosses {
        arch: Some(arch),
        weights: w,
    })
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
    net: &Supernet,
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

/// The supernet's trainable weights in name order (the order of `archer-train`'s SGD).
fn weights(net: &Supernet) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = net
        .vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The loss of `batch` with every edge mixed by `softmax(alpha)` (`net.alpha`, or a detached
/// copy to keep α out of the graph).
pub(crate) fn soft_loss(net: &Supernet, batch: Batch, alpha: &Tensor) -> Tensor {
    mixed_loss(net, batch, &alpha.softmax(-1, alpha.kind()))
}

/// The loss of `batch` with edge `e` mixed by row `e` of `weights` (edges × candidates).
fn mixed_loss(net: &Supernet, batch: Batch, weights: &Tensor) -> Tensor {
    let rows: Vec<Tensor> = (0..weights.size()[0]).map(|e| weights.get(e)).collect();
    let mixing: Vec<Mixing> = rows.iter().map(Mixing::Soft).collect();
    net.forward_t(batch.0, &mixing, true)
        .cross_entropy_for_logits(batch.1)
}

/// `w += scale · v` for every weight, in place.
fn shift(ws: &[Tensor], v: &[Tensor], scale: f64) {
    tch::no_grad(|| {
        for (w, d) in ws.iter().zip(v) {
            let _ = w.shallow_clone().g_add_(&(d * scale));
        }
    });
}

/// DARTS's finite-difference Hessian-vector product `∇²_{α,w} L(batch) · v`: with
/// `R = epsilon/‖v‖` (DARTS: 0.01), `(∇α L(w + Rv) − ∇α L(w − Rv)) / 2R`. The weights end as
/// they were, up to rounding; the two passes update batch-norm statistics, as DARTS's do.
pub fn hessian_vector_alpha(net: &Supernet, batch: Batch, v: &[Tensor], epsilon: f64) -> Tensor {
    let ws: Vec<Tensor> = weights(net).into_iter().map(|(_, t)| t).collect();
    let norm = v
        .iter()
        .map(|d| d.square().sum(d.kind()).double_value(&[]))
        .sum::<f64>()
        .sqrt();
    let r = epsilon / norm.max(1e-12);
    let grad_alpha = || {
        let loss = soft_loss(net, batch, &net.alpha);
        Tensor::run_backward(&[&loss], &[&net.alpha], false, false).remove(0)
    };
    shift(&ws, v, r);
    let plus = grad_alpha();
    shift(&ws, v, -2.0 * r);
    let minus = grad_alpha();
    shift(&ws, v, r);
    (plus - minus) / (2.0 * r)
}

/// DARTS's finite-difference step: `R = 0.01/‖v‖` (quark0/darts `architect.py`).
pub const DARTS_EPSILON: f64 = 0.01;

/// One step of second-order DARTS (Liu et al. 2019, eq. 7–8, as quark0/darts computes it):
/// the α gradient of the validation loss at the weights after one virtual SGD step
/// `w' = w − ξ(μ·b + ∇w L_train + wd·w)` (b: the optimiser's momentum buffer, ξ = `lr`), minus
/// `ξ · ∇²_{α,w} L_train · ∇w' L_valid` by [`hessian_vector_alpha`]; then the weights' step as
/// in first-order DARTS. The virtual step's weights and batch-norm statistics are undone.
#[allow(clippy::too_many_arguments)]
pub fn darts2_step(
    net: &Supernet,
    adam: &mut Adam,
    sgd: &mut Sgd,
    train: Batch,
    valid: Batch,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    grad_clip: f64,
    step: u64,
) -> Result<StepLosses, OneShotError> {
    let named = weights(net);
    let ws: Vec<Tensor> = named.iter().map(|(_, t)| t.shallow_clone()).collect();
    let buffers: std::collections::HashMap<String, Tensor> = sgd.state().into_iter().collect();
    let loss = soft_loss(net, train, &net.alpha);
    finite("weights", &loss, step)?;
    let g = Tensor::run_backward(&[&loss], &ws, false, false);
    let saved: Vec<Tensor> = ws.iter().map(|w| w.detach().copy()).collect();
    let stats = crate::score::BnSnapshot::of(net);
    tch::no_grad(|| {
        for ((name, w), g) in named.iter().zip(&g) {
            let mut d = g + w * weight_decay;
            let key = format!("{}{name}", archer_train::sgd::MOMENTUM_PREFIX);
            if let Some(b) = buffers.get(&key) {
                d += b * momentum;
            }
            let _ = w.shallow_clone().g_sub_(&(d * lr));
        }
    });
    let arch_loss = soft_loss(net, valid, &net.alpha);
    let arch = finite("architecture", &arch_loss, step)?;
    let mut inputs = vec![net.alpha.shallow_clone()];
    inputs.extend(ws.iter().map(|w| w.shallow_clone()));
    let mut grads = Tensor::run_backward(&[&arch_loss], &inputs, false, false);
    let d_alpha = grads.remove(0);
    tch::no_grad(|| {
        for (w, s) in ws.iter().zip(&saved) {
            w.shallow_clone().copy_(s);
        }
    });
    stats.restore();
    let hvp = hessian_vector_alpha(net, train, &grads, DARTS_EPSILON);
    adam.step(&net.alpha, &(d_alpha - hvp * lr));
    let weights = fixed_alpha_weight_step(net, sgd, train, lr, grad_clip, step)?;
    Ok(StepLosses {
        arch: Some(arch),
        weights,
    })
}
