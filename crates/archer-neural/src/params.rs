//! The trainable parameters of a strategy's network, drawn from the strategy's own generator,
//! trained by Adam, and saved bit for bit inside the strategy's JSON state.

use archer_rng::Rng;
use base64::Engine;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Parameters live on the CPU in single precision (measured: a 150×64×256 product takes
/// 100 µs in f32 against 151 µs in f64 here); they are saved bit for bit, so a resumed run
/// is identical to an uninterrupted one.
pub(crate) const DTYPE: Kind = Kind::Float;
pub(crate) const DEVICE: tch::Device = tch::Device::Cpu;

/// A tensor of `data` with `shape` (no gradient), in [`DTYPE`].
pub(crate) fn tensor(data: &[f64], shape: &[i64]) -> Tensor {
    Tensor::from_slice(data).reshape(shape).to_kind(DTYPE)
}

/// The values of `t`, flattened, as f64 (exact for f32 values).
pub(crate) fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(&t.detach().reshape([-1]).to_kind(Kind::Double))
        .expect("a float tensor converts")
}

/// The f32 values of `t`, flattened.
fn values_f32(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(&t.detach().reshape([-1]).to_kind(Kind::Float))
        .expect("a float tensor converts")
}

fn tensor_f32(data: &[f32], shape: &[i64]) -> Tensor {
    Tensor::from_slice(data).reshape(shape).to_kind(DTYPE)
}

/// An ordered list of parameter tensors (each requiring gradients) with Adam's moments.
pub(crate) struct Params {
    tensors: Vec<Tensor>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    steps: u64,
    adam: AdamConstants,
}

/// Adam's constants.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConstants {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for AdamConstants {
    /// Kingma & Ba 2015: (0.9, 0.999), 1e-8.
    fn default() -> Self {
        AdamConstants {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl Params {
    pub(crate) fn new() -> Self {
        Params::with_adam(AdamConstants::default())
    }

    pub(crate) fn with_adam(adam: AdamConstants) -> Self {
        Params {
            tensors: Vec::new(),
            m: Vec::new(),
            v: Vec::new(),
            steps: 0,
            adam,
        }
    }

    /// A new parameter of `shape`, uniform in [-range, range] from `rng`; returns it (a
    /// shallow clone sharing storage and gradient with the kept one).
    pub(crate) fn uniform(&mut self, shape: &[i64], range: f64, rng: &mut Rng) -> Tensor {
        let n: i64 = shape.iter().product();
        let data: Vec<f64> = (0..n).map(|_| range * (2.0 * rng.unit() - 1.0)).collect();
        self.push(tensor(&data, shape))
    }

    /// A new parameter of `shape`, all zeros.
    pub(crate) fn zeros(&mut self, shape: &[i64]) -> Tensor {
        self.push(Tensor::zeros(shape, (DTYPE, DEVICE)))
    }

    fn push(&mut self, t: Tensor) -> Tensor {
        let t = t.set_requires_grad(true);
        self.m.push(t.zeros_like());
        self.v.push(t.zeros_like());
        let handle = t.shallow_clone();
        self.tensors.push(t);
        handle
    }

    /// Clears every gradient (before a backward pass).
    fn zero_grad(&mut self) {
        for t in &mut self.tensors {
            t.zero_grad();
        }
    }

    /// One Adam step down `loss`: back-propagates it into cleared gradients, then
    /// [`Params::adam_step`].
    pub(crate) fn descend(&mut self, loss: &Tensor, learning_rate: f64, clip: Option<f64>) {
        self.zero_grad();
        loss.backward();
        self.adam_step(learning_rate, clip);
    }

    /// One Adam step of `learning_rate` along the gradients of the last backward pass
    /// (descending; a parameter without a gradient is left alone), then clears them.
    /// `clip`, when given, first scales the gradients to that global L2 norm at most.
    fn adam_step(&mut self, learning_rate: f64, clip: Option<f64>) {
        self.steps += 1;
        let t = self.steps as i32;
        let AdamConstants { beta1, beta2, eps } = self.adam;
        let (c1, c2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
        tch::no_grad(|| {
            let grads: Vec<Option<Tensor>> = self
                .tensors
                .iter()
                .map(|p| {
                    let g = p.grad();
                    g.defined().then_some(g)
                })
                .collect();
            let scale = clip.map_or(1.0, |max| {
                let norm: f64 = grads
                    .iter()
                    .flatten()
                    .map(|g| g.square().sum(DTYPE).double_value(&[]))
                    .sum::<f64>()
                    .sqrt();
                if norm > max {
                    max / norm
                } else {
                    1.0
                }
            });
            for (i, g) in grads.iter().enumerate() {
                let Some(g) = g else { continue };
                let g = if scale == 1.0 {
                    g.shallow_clone()
                } else {
                    g * scale
                };
                // In place, few ops: these networks are small enough for the op count to
                // be the cost. m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g²,
                // θ ← θ − lr·(m / c1) / (√(v / c2) + ε).
                let _ = self.m[i].lerp_(&g, 1.0 - beta1);
                let _ = self.v[i]
                    .g_mul_scalar_(beta2)
                    .addcmul_(&(&g * (1.0 - beta2)), &g);
                let denom = (&self.v[i] / c2).sqrt_().g_add_scalar_(eps);
                let _ = self.tensors[i].addcdiv_(&(&self.m[i] * (-learning_rate / c1)), &denom);
            }
        });
        self.zero_grad();
    }

    /// Everything needed to continue training exactly.
    pub(crate) fn state(&self) -> ParamsState {
        let pack = |ts: &[Tensor]| {
            let mut bytes = Vec::new();
            for t in ts {
                for x in values_f32(t) {
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
            }
            base64::engine::general_purpose::STANDARD.encode(bytes)
        };
        ParamsState {
            shapes: self.tensors.iter().map(|t| t.size()).collect(),
            values: pack(&self.tensors),
            m: pack(&self.m),
            v: pack(&self.v),
            steps: self.steps,
        }
    }

    /// Overwrites every parameter and moment with `state`'s, which must come from
    /// parameters of the same shapes.
    pub(crate) fn restore(&mut self, state: &ParamsState) -> Result<(), String> {
        let shapes: Vec<Vec<i64>> = self.tensors.iter().map(|t| t.size()).collect();
        if state.shapes != shapes {
            return Err(format!(
                "the saved network has {} tensors of other shapes than this configuration's {}",
                state.shapes.len(),
                shapes.len()
            ));
        }
        let total: usize = shapes
            .iter()
            .map(|s| s.iter().product::<i64>() as usize)
            .sum();
        let unpack = |text: &str| -> Result<Vec<f32>, String> {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| format!("parameters: {e}"))?;
            if bytes.len() != total * 4 {
                return Err(format!(
                    "{} bytes of parameters, expected {}",
                    bytes.len(),
                    total * 4
                ));
            }
            Ok(bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect())
        };
        let (values, m, v) = (unpack(&state.values)?, unpack(&state.m)?, unpack(&state.v)?);
        let mut at = 0;
        tch::no_grad(|| {
            for (i, shape) in shapes.iter().enumerate() {
                let n = shape.iter().product::<i64>() as usize;
                self.tensors[i]
                    .f_copy_(&tensor_f32(&values[at..at + n], shape))
                    .expect("same shapes");
                self.m[i] = tensor_f32(&m[at..at + n], shape);
                self.v[i] = tensor_f32(&v[at..at + n], shape);
                at += n;
            }
        });
        self.steps = state.steps;
        Ok(())
    }
}

/// [`Params`] as saved: shapes, then the values and Adam's moments as little-endian f32
/// bytes in base64 (exact, and a fifth of the size of decimal JSON numbers).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ParamsState {
    shapes: Vec<Vec<i64>>,
    values: String,
    m: String,
    v: String,
    steps: u64,
}

/// While alive, libtorch runs this thread's ops on one thread, then the previous setting is
/// restored. The strategies' networks are far too small to gain from intra-op threads, and
/// several studies or bench runs side by side would otherwise oversubscribe the cores
/// (measured: NAO's training twice as slow with 2 threads as with 1 on a 2-core machine,
/// and far slower with two runs in parallel). libtorch's OpenMP thread count is per
/// calling thread, so training on other threads keeps its own.
pub(crate) struct OneThread {
    previous: i32,
}

impl OneThread {
    pub(crate) fn new() -> Self {
        let previous = tch::get_num_threads();
        if previous != 1 {
            tch::set_num_threads(1);
        }
        OneThread { previous }
    }
}

impl Drop for OneThread {
    fn drop(&mut self) {
        if self.previous != 1 && self.previous > 0 {
            tch::set_num_threads(self.previous);
        }
    }
}

/// A strategy's saved state: its plain fields (`fields`, a JSON object) with the network's
/// [`Params`] under `"params"`.
pub(crate) fn save_with_params(fields: &impl Serialize, params: &Params) -> serde_json::Value {
    let mut value = serde_json::to_value(fields).expect("plain data serialises");
    value["params"] = serde_json::to_value(params.state()).expect("plain data serialises");
    value
}

/// The inverse of [`save_with_params`]: restores `params` from `state` and returns the plain
/// fields. Nothing is changed when the state does not fit.
pub(crate) fn restore_with_params<T: serde::de::DeserializeOwned>(
    mut state: serde_json::Value,
    params: &mut Params,
) -> Result<T, String> {
    let saved = state
        .as_object_mut()
        .and_then(|o| o.remove("params"))
        .ok_or("the state holds no network parameters")?;
    let saved: ParamsState = serde_json::from_value(saved).map_err(|e| e.to_string())?;
    let fields: T = serde_json::from_value(state).map_err(|e| e.to_string())?;
    params.restore(&saved)?;
    Ok(fields)
}
