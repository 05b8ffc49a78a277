//! Batch norm for supernets: optional affine parameters, running statistics kept as
//! non-trainable variables (so they are saved with the network), on `Tensor::batch_norm`.

use tch::nn;
use tch::Tensor;

/// Batch norm over `c` channels; without affine parameters in the candidate operations of a
/// supernet (AutoDL-Projects, DARTS), with them in its fixed parts.
#[derive(Debug)]
pub struct SearchBn {
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    running_mean: Tensor,
    running_var: Tensor,
}

/// PyTorch's defaults.
const MOMENTUM: f64 = 0.1;
const EPS: f64 = 1e-5;

impl SearchBn {
    pub fn new(p: &nn::Path, c: i64, affine: bool) -> Self {
        let (weight, bias) = if affine {
            (Some(p.ones("weight", &[c])), Some(p.zeros("bias", &[c])))
        } else {
            (None, None)
        };
        SearchBn {
            weight,
            bias,
            running_mean: p.zeros_no_train("running_mean", &[c]),
            running_var: p.ones_no_train("running_var", &[c]),
        }
    }

    /// Normalises by the batch's statistics (updating the running ones) when `train`, else
    /// by the running ones.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        x.batch_norm(
            self.weight.as_ref(),
            self.bias.as_ref(),
            Some(&self.running_mean),
            Some(&self.running_var),
            train,
            MOMENTUM,
            EPS,
            false,
        )
    }
}
