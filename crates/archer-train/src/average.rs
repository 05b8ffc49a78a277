//! An exponential moving average of a network's weights and batch-norm statistics, kept
//! beside the optimizer (as TensorFlow's `ExponentialMovingAverage` and timm's `ModelEma`
//! do) and evaluated in place of the raw weights.
//!
//! Early in a schedule the learning rate is high and the raw weights jump between steps:
//! an evaluation after a few epochs then says more about where the last step landed than
//! about the network. The average smooths that out, which is what a multi-fidelity
//! scheduler needs of its low rungs. Training itself always steps the raw weights.
//!
//! After `n` updates the average's decay is `min(decay, (1 + n) / (10 + n))`, TensorFlow's
//! `num_updates` rule, so that the first epochs are not dominated by the initial weights.
//! The update count is part of the state a checkpoint saves, so a resumed run averages as
//! an uninterrupted one does.

use std::collections::HashMap;

use tch::{nn, Tensor};

/// The prefix of an averaged variable's name in a checkpoint.
pub const AVERAGE_PREFIX: &str = "average.";
/// The name of the update count in a checkpoint.
pub const UPDATES_NAME: &str = "average_updates";

/// The moving average of every floating-point variable of a `VarStore`, in name order.
pub struct WeightAverage {
    names: Vec<String>,
    /// The network's own variables (shallow clones: they share storage with the network).
    live: Vec<Tensor>,
    averaged: Vec<Tensor>,
    decay: f64,
    updates: i64,
}

impl WeightAverage {
    /// The average of `vs`'s floating-point variables, starting at their present values.
    /// `decay` is in (0, 1).
    pub fn new(vs: &nn::VarStore, decay: f64) -> Self {
        let (names, live) = crate::sgd::variables_by_name(vs, Tensor::is_floating_point);
        let averaged: Vec<Tensor> =
            tch::no_grad(|| live.iter().map(|t| t.detach().copy()).collect());
        WeightAverage {
            names,
            live,
            averaged,
            decay,
            updates: 0,
        }
    }

    /// The decay the next update uses.
    pub fn current_decay(&self) -> f64 {
        let n = self.updates as f64;
        self.decay.min((1.0 + n) / (10.0 + n))
    }

    /// Moves the average towards the network's present weights (after an optimizer step).
    pub fn update(&mut self) {
        let keep = self.current_decay();
        tch::no_grad(|| {
            for (avg, live) in self.averaged.iter_mut().zip(&self.live) {
                let _ = avg.lerp_(live, 1.0 - keep);
            }
        });
        self.updates += 1;
    }

    /// Exchanges the network's weights with the average, bit for bit: called twice, it
    /// leaves both as they were.
    pub fn swap(&mut self) {
        tch::no_grad(|| {
            for (avg, live) in self.averaged.iter_mut().zip(self.live.iter_mut()) {
                let raw = live.copy();
                live.copy_(avg);
                avg.copy_(&raw);
            }
        });
    }

    /// The averaged variables (`average.<variable>`) and the update count, for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut state: Vec<(String, Tensor)> = self
            .names
            .iter()
            .zip(&self.averaged)
            .map(|(n, t)| (format!("{AVERAGE_PREFIX}{n}"), t.shallow_clone()))
            .collect();
        state.push((
            UPDATES_NAME.to_string(),
            Tensor::from_slice(&[self.updates]),
        ));
        state
    }

    /// Whether `saved` holds an average of these variables (the reason if not).
    pub fn check_state(&self, saved: &HashMap<String, Tensor>) -> Result<(), String> {
        if !saved.contains_key(UPDATES_NAME) {
            return Err("it holds no weight average, and this recipe keeps one".into());
        }
        for (name, live) in self.names.iter().zip(&self.live) {
            match saved.get(&format!("{AVERAGE_PREFIX}{name}")) {
                Some(t) if t.size() == live.size() => {}
                Some(t) => {
                    return Err(format!(
                        "the average of {name} has shape {:?}, the variable {:?}",
                        t.size(),
                        live.size()
                    ))
                }
                None => return Err(format!("it holds no average of {name}")),
            }
        }
        Ok(())
    }

    /// Takes the average of a checkpoint back (checked by [`WeightAverage::check_state`]).
    pub fn load_state(&mut self, saved: &mut HashMap<String, Tensor>) {
        tch::no_grad(|| {
            for (name, avg) in self.names.iter().zip(self.averaged.iter_mut()) {
                if let Some(t) = saved.remove(&format!("{AVERAGE_PREFIX}{name}")) {
                    avg.copy_(&t);
                }
            }
        });
        if let Some(t) = saved.remove(UPDATES_NAME) {
            self.updates = t.int64_value(&[0]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn store() -> (nn::VarStore, Tensor) {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().var("w", &[3], nn::Init::Const(1.0));
        (vs, w)
    }

    #[test]
    fn the_decay_follows_the_update_count_until_it_reaches_the_setting() {
        let (vs, mut w) = store();
        let mut avg = WeightAverage::new(&vs, 0.99);
        // 1/10, then 2/11, ...: the first updates follow the weights closely.
        assert!((avg.current_decay() - 0.1).abs() < 1e-12);
        tch::no_grad(|| {
            let _ = w.fill_(11.0);
        });
        avg.update();
        // 0.1 · 1 + 0.9 · 11 = 10.
        let mut state = avg.state();
        let (_, averaged) = state.remove(0);
        assert!((averaged.double_value(&[0]) - 10.0).abs() < 1e-5);
        assert!((avg.current_decay() - 2.0 / 11.0).abs() < 1e-12);
        for _ in 0..10_000 {
            avg.update();
        }
        assert_eq!(avg.current_decay(), 0.99);
    }

    #[test]
    fn swapping_twice_gives_back_both_sets_of_values_bit_for_bit() {
        let (vs, mut w) = store();
        let mut avg = WeightAverage::new(&vs, 0.9);
        tch::no_grad(|| {
            w.copy_(&Tensor::from_slice(&[0.1f32, 0.2, 0.3]));
        });
        avg.update();
        let raw = w.copy();
        let averaged = avg.state().remove(0).1.copy();
        avg.swap();
        assert!(w.equal(&averaged));
        avg.swap();
        assert!(w.equal(&raw));
        assert!(avg.state().remove(0).1.equal(&averaged));
    }

    #[test]
    fn a_saved_average_loads_back_with_its_update_count() {
        let (vs, mut w) = store();
        let mut avg = WeightAverage::new(&vs, 0.9);
        tch::no_grad(|| {
            let _ = w.fill_(5.0);
        });
        for _ in 0..3 {
            avg.update();
        }
        let mut saved: HashMap<String, Tensor> = avg.state().into_iter().collect();
        let (other_vs, _) = store();
        let mut other = WeightAverage::new(&other_vs, 0.9);
        assert_eq!(other.check_state(&saved), Ok(()));
        other.load_state(&mut saved);
        assert_eq!(other.current_decay(), avg.current_decay());
        assert!(other.state()[0].1.equal(&avg.state()[0].1));
        // A checkpoint without an average is refused, with the reason.
        let err = other.check_state(&HashMap::new()).unwrap_err();
        assert!(err.contains("no weight average"), "{err}");
    }
}
