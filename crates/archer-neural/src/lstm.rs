//! A stacked LSTM (Hochreiter & Schmidhuber 1997) on libtorch's fused LSTM op, with its
//! weights held as ordinary [`Params`] (drawn from the strategy's generator, saved
//! exactly); autograd computes every gradient.

use archer_rng::Rng;
use tch::Tensor;

use crate::params::{Params, DEVICE, DTYPE};

/// `layers` LSTM layers of `hidden` units on inputs of `input` features. Per layer the
/// weights are (4·hidden, input) and (4·hidden, hidden) and one bias (4·hidden), the gates
/// stacked in libtorch's order (input, forget, cell, output).
pub(crate) struct Lstm {
    /// Per layer: input weights, hidden weights, bias.
    weights: Vec<Tensor>,
    layers: i64,
    hidden: i64,
}

/// The hidden and cell states, each (layers, batch, hidden).
pub(crate) struct LstmState {
    h: Tensor,
    c: Tensor,
}

impl LstmState {
    /// Per batch row, `next`'s state where `mask` (batch, 1) is true, else this one's.
    pub(crate) fn select(&self, mask: &Tensor, next: &LstmState) -> LstmState {
        let m = mask.unsqueeze(0);
        LstmState {
            h: next.h.where_self(&m, &self.h),
            c: next.c.where_self(&m, &self.c),
        }
    }

    /// The top layer's hidden state, (batch, hidden).
    pub(crate) fn top(&self) -> Tensor {
        self.h.get(self.h.size()[0] - 1)
    }
}

impl Lstm {
    /// Weights uniform in [-range, range] (NAS-RL's initialisation), biases zero.
    pub(crate) fn new(
        params: &mut Params,
        rng: &mut Rng,
        input: i64,
        hidden: i64,
        layers: usize,
        range: f64,
    ) -> Self {
        let mut weights = Vec::with_capacity(3 * layers);
        for l in 0..layers {
            let inp = if l == 0 { input } else { hidden };
            weights.push(params.uniform(&[4 * hidden, inp], range, rng));
            weights.push(params.uniform(&[4 * hidden, hidden], range, rng));
            weights.push(params.zeros(&[4 * hidden]));
        }
        Lstm {
            weights,
            layers: layers as i64,
            hidden,
        }
    }

    pub(crate) fn zero_state(&self, batch: i64) -> LstmState {
        let z = || Tensor::zeros([self.layers, batch, self.hidden], (DTYPE, DEVICE));
        LstmState { h: z(), c: z() }
    }

    /// A state whose every layer starts from `h` (batch, hidden) and a zero cell.
    pub(crate) fn state_from(&self, h: &Tensor) -> LstmState {
        let h = h
            .unsqueeze(0)
            .expand([self.layers, -1, -1], false)
            .contiguous();
        LstmState {
            c: h.zeros_like(),
            h,
        }
    }

    /// The whole sequence `x` (batch, T, input): the top layer's outputs (batch, T, hidden)
    /// and the final state. Steps through libtorch's LSTM cell: for these tiny networks the
    /// fused sequence op spends most of its time setting up oneDNN (measured with perf).
    pub(crate) fn run(&self, x: &Tensor, state: &LstmState) -> (Tensor, LstmState) {
        let steps = x.size()[1];
        let layers = self.layers as usize;
        let mut h: Vec<Tensor> = (0..layers).map(|l| state.h.get(l as i64)).collect();
        let mut c: Vec<Tensor> = (0..layers).map(|l| state.c.get(l as i64)).collect();
        let mut outputs = Vec::with_capacity(steps as usize);
        for t in 0..steps {
            let mut input = x.select(1, t);
            for l in 0..layers {
                let w = &self.weights[3 * l..3 * l + 3];
                let (hl, cl) = input.lstm_cell(&[&h[l], &c[l]], &w[0], &w[1], Some(&w[2]), None);
                input = hl.shallow_clone();
                h[l] = hl;
                c[l] = cl;
            }
            outputs.push(input);
        }
        (
            Tensor::stack(&outputs, 1),
            LstmState {
                h: Tensor::stack(&h, 0),
                c: Tensor::stack(&c, 0),
            },
        )
    }

    /// One time step on `x` (batch, input): the next state.
    pub(crate) fn step(&self, x: &Tensor, state: &LstmState) -> LstmState {
        self.run(&x.unsqueeze(1), state).1
    }
}
