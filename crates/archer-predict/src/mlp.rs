//! An ensemble of small fully connected networks, as in BANANAS (White et al. 2021).

use std::sync::Arc;

use archer_rng::Rng;
use archer_space::{Arch, Encoding, SearchSpace};

use crate::predictor::{check_training_data, encode_all, standardise};
use crate::{PredictError, Prediction, Predictor};

/// Training settings of every member.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MlpSettings {
    pub members: usize,
    pub hidden_layers: usize,
    pub width: usize,
    pub epochs: usize,
    /// Upper bound on gradient steps per member, so fitting time stays bounded as data grows.
    pub max_steps: usize,
    pub batch: usize,
    pub learning_rate: f64,
    /// Train each member on its own bootstrap sample of the data (bagging), so that the
    /// members' spread reflects how much the data pins the prediction down.
    pub bootstrap: bool,
    /// Randomized prior functions (Osband et al. 2018): each member is a trained network plus
    /// a fixed, untrained random one whose outputs on the training data have this standard
    /// deviation (in standardised target units); the trained part fits what the prior leaves.
    /// Where data pins the prediction down the members agree; away from it their priors make
    /// them disagree, so the ensemble's spread grows where the search has not looked.
    /// 0 turns it off.
    pub prior_scale: f64,
}

impl Default for MlpSettings {
    /// BANANAS' predictor: 5 members, ReLU layers of width 20, Adam at 0.01, batch 32, MAE.
    /// Three hidden layers instead of ten keep a fit under 100 ms at 150 points, with the
    /// same ranking quality on NAS-Bench-201 (see `archer bench predictors`).
    fn default() -> Self {
        MlpSettings {
            members: 5,
            hidden_layers: 3,
            width: 20,
            epochs: 200,
            max_steps: 600,
            batch: 32,
            learning_rate: 0.01,
            bootstrap: false,
            prior_scale: 0.0,
        }
    }
}

/// One dense layer with its Adam moments.
#[derive(Clone)]
struct Layer {
    inputs: usize,
    outputs: usize,
    /// Column-major `[inputs][outputs]`: one input's weights are contiguous.
    w: Vec<f32>,
    b: Vec<f32>,
    gw: Vec<f32>,
    gb: Vec<f32>,
    mw: Vec<f32>,
    vw: Vec<f32>,
    mb: Vec<f32>,
    vb: Vec<f32>,
}

impl Layer {
    fn new(inputs: usize, outputs: usize, rng: &mut Rng) -> Self {
        // He-uniform initialisation for ReLU layers.
        let bound = (6.0 / inputs.max(1) as f64).sqrt();
        let w = (0..inputs * outputs)
            .map(|_| ((rng.unit() * 2.0 - 1.0) * bound) as f32)
            .collect();
        Layer {
            inputs,
            outputs,
            w,
            b: vec![0.0; outputs],
            gw: vec![0.0; inputs * outputs],
            gb: vec![0.0; outputs],
            mw: vec![0.0; inputs * outputs],
            vw: vec![0.0; inputs * outputs],
            mb: vec![0.0; outputs],
            vb: vec![0.0; outputs],
        }
    }

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        out.copy_from_slice(&self.b);
        // Inputs are often sparse 0/1 encodings: skip zeros.
        for (j, &xj) in x.iter().enumerate() {
            if xj == 0.0 {
                continue;
            }
            let column = &self.w[j * self.outputs..(j + 1) * self.outputs];
            for (o, &w) in out.iter_mut().zip(column) {
                *o += w * xj;
            }
        }
    }

    /// Accumulates gradients for output gradient `dout` at input `x`; writes the input
    /// gradient into `dx` when given.
    fn backward(&mut self, x: &[f32], dout: &[f32], dx: Option<&mut [f32]>) {
        for (g, &d) in self.gb.iter_mut().zip(dout) {
            *g += d;
        }
        for (j, &xj) in x.iter().enumerate() {
            if xj == 0.0 {
                continue;
            }
            let column = &mut self.gw[j * self.outputs..(j + 1) * self.outputs];
            for (g, &d) in column.iter_mut().zip(dout) {
                *g += d * xj;
            }
        }
        if let Some(dx) = dx {
            for (j, g) in dx.iter_mut().enumerate() {
                let column = &self.w[j * self.outputs..(j + 1) * self.outputs];
                *g = column.iter().zip(dout).map(|(w, d)| w * d).sum();
            }
        }
    }

    fn adam_step(&mut self, lr: f32, t: i32, scale: f32) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        let c1 = 1.0 - B1.powi(t);
        let c2 = 1.0 - B2.powi(t);
        let step = |p: &mut [f32], g: &mut [f32], m: &mut [f32], v: &mut [f32]| {
            for i in 0..p.len() {
                let gi = g[i] * scale;
                m[i] = B1 * m[i] + (1.0 - B1) * gi;
                v[i] = B2 * v[i] + (1.0 - B2) * gi * gi;
                p[i] -= lr * (m[i] / c1) / ((v[i] / c2).sqrt() + 1e-8);
                g[i] = 0.0;
            }
        };
        step(&mut self.w, &mut self.gw, &mut self.mw, &mut self.vw);
        step(&mut self.b, &mut self.gb, &mut self.mb, &mut self.vb);
    }
}

#[derive(Clone)]
struct Mlp {
    layers: Vec<Layer>,
}

impl Mlp {
    fn new(inputs: usize, s: &MlpSettings, rng: &mut Rng) -> Self {
        let mut layers = Vec::new();
        let mut width_in = inputs;
        for _ in 0..s.hidden_layers {
            layers.push(Layer::new(width_in, s.width, rng));
            width_in = s.width;
        }
        layers.push(Layer::new(width_in, 1, rng));
        Mlp { layers }
    }

    /// Activations of every layer (post-ReLU for hidden layers), input first.
    fn forward(&self, x: &[f32], acts: &mut Vec<Vec<f32>>) -> f32 {
        acts.resize(self.layers.len() + 1, Vec::new());
        acts[0].clear();
        acts[0].extend_from_slice(x);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            let (before, after) = acts.split_at_mut(i + 1);
            let out = &mut after[0];
            out.resize(layer.outputs, 0.0);
            layer.forward(&before[i], out);
            if i < last {
                for v in out.iter_mut() {
                    *v = v.max(0.0);
                }
            }
        }
        acts[self.layers.len()][0]
    }

    fn predict(&self, x: &[f32]) -> f32 {
        let mut acts = Vec::new();
        self.forward(x, &mut acts)
    }

    /// One minibatch step of mean absolute error.
    fn train_step(&mut self, xs: &[&[f32]], ys: &[f32], lr: f32, t: i32) {
        let mut acts = Vec::new();
        let mut grad: Vec<f32> = Vec::new();
        let mut grad_in: Vec<f32> = Vec::new();
        let last = self.layers.len() - 1;
        for (x, &y) in xs.iter().zip(ys) {
            let pred = self.forward(x, &mut acts);
            let d = if pred > y {
                1.0
            } else if pred < y {
                -1.0
            } else {
                0.0
            };
            grad.clear();
            grad.push(d);
            for i in (0..=last).rev() {
                if i < last {
                    // Through the ReLU of layer i's output.
                    for (g, &a) in grad.iter_mut().zip(&acts[i + 1]) {
                        if a <= 0.0 {
                            *g = 0.0;
                        }
                    }
                }
                let layer = &mut self.layers[i];
                if i > 0 {
                    grad_in.resize(layer.inputs, 0.0);
                    layer.backward(&acts[i], &grad, Some(&mut grad_in));
                    std::mem::swap(&mut grad, &mut grad_in);
                } else {
                    layer.backward(&acts[i], &grad, None);
                }
            }
        }
        let scale = 1.0 / xs.len() as f32;
        for layer in &mut self.layers {
            layer.adam_step(lr, t, scale);
        }
    }
}

/// One member: a trained network, plus a fixed random prior network and its weight when
/// [`MlpSettings::prior_scale`] is positive.
struct Member {
    net: Mlp,
    prior: Option<(Mlp, f32)>,
}

impl Member {
    fn predict(&self, x: &[f32]) -> f32 {
        let prior = self.prior.as_ref().map_or(0.0, |(p, w)| w * p.predict(x));
        self.net.predict(x) + prior
    }
}

/// The ensemble: members differ in initialisation, minibatch order and (optionally) their
/// bootstrap sample and random prior. The prediction is the members' mean; the uncertainty
/// their standard deviation.
pub struct MlpEnsemble {
    space: Arc<dyn SearchSpace>,
    encoding: Encoding,
    settings: MlpSettings,
    members: Vec<Member>,
    y_mean: f64,
    y_std: f64,
}

impl MlpEnsemble {
    pub fn new(space: Arc<dyn SearchSpace>, encoding: Encoding, settings: MlpSettings) -> Self {
        MlpEnsemble {
            space,
            encoding,
            settings,
            members: Vec::new(),
            y_mean: 0.0,
            y_std: 1.0,
        }
    }
}

impl Predictor for MlpEnsemble {
    fn name(&self) -> &'static str {
        "mlp"
    }

    fn fit(&mut self, archs: &[Arch], targets: &[f64], rng: &mut Rng) -> Result<(), PredictError> {
        check_training_data("mlp", archs, targets, 1)?;
        let s = self.settings;
        let (y_mean, y_std) = standardise(targets);
        self.y_mean = y_mean;
        self.y_std = y_std;
        let xs = encode_all(self.space.as_ref(), archs, self.encoding);
        let ys: Vec<f32> = targets
            .iter()
            .map(|t| ((t - y_mean) / y_std) as f32)
            .collect();
        let n = xs.len();
        let batch = s.batch.clamp(1, n);
        let batches_per_epoch = n.div_ceil(batch);
        let steps = (s.epochs * batches_per_epoch).min(s.max_steps).max(1);
        let inputs = xs[0].len();
        // Targets that are all equal say nothing about how far predictions may stray from
        // them, so they get no prior.
        let constant = targets.iter().all(|&t| t == targets[0]);
        let prior_scale = if constant { 0.0 } else { s.prior_scale };
        // Each member's generator is drawn here, in order, so the ensemble does not depend
        // on how many threads train it.
        let seeds: Vec<u64> = (0..s.members.max(1)).map(|_| rng.next_u64()).collect();
        let train = |seed: u64| {
            let mut member_rng = Rng::derive(seed, 0x004d_4c50); // "MLP"
            let mut net = Mlp::new(inputs, &s, &mut member_rng);
            let prior = (prior_scale > 0.0).then(|| {
                let mut prior_rng = Rng::derive(seed, 0x0050_5249); // "PRI"
                random_prior(Mlp::new(inputs, &s, &mut prior_rng), &xs, prior_scale)
            });
            // The trained network fits what the prior leaves of each target.
            let residual: Vec<f32> = match &prior {
                Some((p, w)) => xs
                    .iter()
                    .zip(&ys)
                    .map(|(x, y)| y - w * p.predict(x))
                    .collect(),
                None => ys.clone(),
            };
            let mut order: Vec<usize> = if s.bootstrap {
                (0..n).map(|_| member_rng.below(n)).collect()
            } else {
                (0..n).collect()
            };
            let mut bx: Vec<&[f32]> = Vec::with_capacity(batch);
            let mut by: Vec<f32> = Vec::with_capacity(batch);
            for step in 0..steps {
                let k = step % batches_per_epoch;
                if k == 0 {
                    member_rng.shuffle(&mut order);
                }
                bx.clear();
                by.clear();
                for &i in order.iter().skip(k * batch).take(batch) {
                    bx.push(&xs[i]);
                    by.push(residual[i]);
                }
                net.train_step(&bx, &by, s.learning_rate as f32, step as i32 + 1);
            }
            Member { net, prior }
        };
        // Members train in parallel on the machine's cores.
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .min(seeds.len());
        let chunk = seeds.len().div_ceil(threads);
        self.members = std::thread::scope(|scope| {
            let handles: Vec<_> = seeds
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(|| part.iter().map(|&seed| train(seed)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("training a member does not panic"))
                .collect()
        });
        Ok(())
    }

    fn predict(&self, archs: &[Arch]) -> Result<Vec<Prediction>, PredictError> {
        if self.members.is_empty() {
            return Err(PredictError::NotFitted { predictor: "mlp" });
        }
        Ok(archs
            .iter()
            .map(|a| {
                let x = self.space.encode(a, self.encoding);
                let preds: Vec<f64> = self
                    .members
                    .iter()
                    .map(|m| f64::from(m.predict(&x)))
                    .collect();
                ensemble_prediction(&preds, self.y_mean, self.y_std)
            })
            .collect())
    }
}

/// A fixed random network and the weight that gives its outputs on `xs` the standard
/// deviation `scale` (weight `scale` when they are all equal).
fn random_prior(prior: Mlp, xs: &[Vec<f32>], scale: f64) -> (Mlp, f32) {
    let outputs: Vec<f64> = xs.iter().map(|x| f64::from(prior.predict(x))).collect();
    let (_, std) = standardise(&outputs);
    (prior, (scale / std) as f32)
}

/// The prediction of an ensemble whose members predicted `standardised` values: their mean
/// and spread, mapped back through the target's `y_mean` and `y_std`.
pub(crate) fn ensemble_prediction(standardised: &[f64], y_mean: f64, y_std: f64) -> Prediction {
    let n = standardised.len() as f64;
    let mean = standardised.iter().sum::<f64>() / n;
    let var = standardised.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    Prediction {
        mean: y_mean + y_std * mean,
        std: y_std * var.sqrt(),
    }
}
