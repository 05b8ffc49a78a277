//! Scoring a sub-network of a supernet on shared weights: its validation accuracy, with batch
//! norm statistics recalibrated for it first (SPOS: the supernet's running statistics belong
//! to no single path), and the supernet left exactly as it was.

use archer_space::Arch;
use tch::{Kind, Tensor};

use crate::{Mixing, OneShotError, Supernet};

/// PyTorch's batch-norm momentum, which every batch norm of the supernet uses.
const MOMENTUM: f64 = 0.1;

/// Copies of every batch norm's running statistics, to put back.
pub struct BnSnapshot(Vec<(Tensor, Tensor)>);

fn running_stats(net: &Supernet) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = net
        .vs
        .variables()
        .into_iter()
        .filter(|(n, _)| n.ends_with("running_mean") || n.ends_with("running_var"))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

impl BnSnapshot {
    pub fn of(net: &Supernet) -> Self {
        BnSnapshot(
            running_stats(net)
                .into_iter()
                .map(|(_, t)| {
                    let copy = t.detach().copy();
                    (t, copy)
                })
                .collect(),
        )
    }

    /// Puts the statistics back as they were.
    pub fn restore(&self) {
        tch::no_grad(|| {
            for (t, saved) in &self.0 {
                t.shallow_clone().copy_(saved);
            }
        });
    }
}

/// Sets every batch norm's running statistics to those of `images` under `mixing`: the mean
/// and the unbiased variance over all of them (one pass in training mode from reset
/// statistics, then the momentum undone: `mean = m/0.1`, `var = (v − 0.9)/0.1`), which is
/// what PyTorch's cumulative `momentum=None` gives for one batch.
pub fn recalibrate(net: &Supernet, mixing: &[Mixing], images: &Tensor) {
    let stats = running_stats(net);
    tch::no_grad(|| {
        for (name, t) in &stats {
            let _ = t.shallow_clone().fill_(if name.ends_with("running_var") {
                1.0
            } else {
                0.0
            });
        }
        let _ = net.forward_t(images, mixing, true);
        for (name, t) in &stats {
            let mut t = t.shallow_clone();
            if name.ends_with("running_var") {
                let _ = t.g_sub_scalar_(1.0 - MOMENTUM);
            }
            let _ = t.g_div_scalar_(MOMENTUM);
        }
    });
}

/// Accuracy (0–1) of the supernet under `mixing` on `valid` batches, in evaluation mode.
pub fn accuracy(net: &Supernet, mixing: &[Mixing], valid: &[(Tensor, Tensor)]) -> f64 {
    tch::no_grad(|| {
        let (mut right, mut all) = (0i64, 0i64);
        for (x, y) in valid {
            let predicted = net.forward_t(x, mixing, false).argmax(-1, false);
            right += predicted.eq_tensor(y).sum(Kind::Int64).int64_value(&[]);
            all += y.size()[0];
        }
        right as f64 / all.max(1) as f64
    })
}

/// The validation accuracy of `arch` on the supernet's shared weights, its batch norms
/// recalibrated on `recalibration` images first when given; the supernet's statistics are
/// restored afterwards, so scoring never changes it.
pub fn score(
    net: &Supernet,
    arch: &Arch,
    recalibration: Option<&Tensor>,
    valid: &[(Tensor, Tensor)],
) -> Result<f64, OneShotError> {
    let mixing = net.single_path(arch)?;
    let snapshot = BnSnapshot::of(net);
    if let Some(images) = recalibration {
        recalibrate(net, &mixing, images);
    }
    let acc = accuracy(net, &mixing, valid);
    snapshot.restore();
    Ok(acc)
}

/// The accuracy (0–1) of `arch` on one batch `(x, y)` with the batch's own statistics (batch
/// norms in training mode, as ENAS rewards its controller); the running statistics are put
/// back, so the supernet is left as it was.
pub fn batch_accuracy(
    net: &Supernet,
    arch: &Arch,
    x: &Tensor,
    y: &Tensor,
) -> Result<f64, OneShotError> {
    let mixing = net.single_path(arch)?;
    let snapshot = BnSnapshot::of(net);
    let acc = tch::no_grad(|| {
        let predicted = net.forward_t(x, &mixing, true).argmax(-1, false);
        predicted.eq_tensor(y).sum(Kind::Int64).int64_value(&[]) as f64 / y.size()[0].max(1) as f64
    });
    snapshot.restore();
    Ok(acc)
}
