use serde::Serialize;

/// Parameters and FLOPs of a network or a part of it. FLOPs follow the convention of
/// NAS-Bench-201 and most NAS papers: one multiply-accumulate of a convolution or linear
/// layer is one FLOP, a bias adds one per output; normalisation, activations, pooling and
/// additions are not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cost {
    pub params: u64,
    pub flops: u64,
}

impl std::ops::Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        Cost {
            params: self.params + o.params,
            flops: self.flops + o.flops,
        }
    }
}

impl std::ops::AddAssign for Cost {
    fn add_assign(&mut self, o: Cost) {
        *self = *self + o;
    }
}

impl std::iter::Sum for Cost {
    fn sum<I: Iterator<Item = Cost>>(iter: I) -> Cost {
        iter.fold(Cost::default(), |a, b| a + b)
    }
}

impl Cost {
    /// Millions of parameters.
    pub fn params_m(&self) -> f64 {
        self.params as f64 / 1e6
    }

    /// Millions of FLOPs.
    pub fn flops_m(&self) -> f64 {
        self.flops as f64 / 1e6
    }
}

/// A `k×k` convolution without bias from `c_in` to `c_out` channels producing an
/// `h_out × w_out` map, optionally followed by an affine batch norm (2 parameters per
/// channel, no FLOPs).
pub fn conv(c_in: u64, c_out: u64, k: u64, h_out: u64, w_out: u64, batch_norm: bool) -> Cost {
    let weights = c_in * c_out * k * k;
    Cost {
        params: weights + if batch_norm { 2 * c_out } else { 0 },
        flops: weights * h_out * w_out,
    }
}

/// A linear layer with bias.
pub fn linear(inputs: u64, outputs: u64) -> Cost {
    Cost {
        params: inputs * outputs + outputs,
        flops: inputs * outputs + outputs,
    }
}
