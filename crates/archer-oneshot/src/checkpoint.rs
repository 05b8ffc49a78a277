//! The one-shot folder's checkpoint, written after every epoch: every tensor of the supernet
//! (batch-norm statistics included), α, the weights' momentum and the method's own state
//! (Adam's moments) in `state-<epoch>.pt`, and `state.json` (the run it belongs to, the
//! position, the epochs' records), written last by rename so that a kill at any moment
//! leaves the previous epoch's checkpoint or this one, never a mix.

use std::collections::HashMap;
use std::path::Path;

use archer_space::SearchSpace;
use archer_train::sgd::Sgd;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::method::Method;
use crate::run::EpochRecord;
use crate::{OneShotError, OneShotSettings, Supernet};

const META: &str = "state.json";
const FORMAT: u32 = 1;
const NET_PREFIX: &str = "net.";
const ALPHA: &str = "arch.alpha";
const METHOD_PREFIX: &str = "method.";

/// The run a checkpoint belongs to: a checkpoint of any other is not used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub format: u32,
    pub method: String,
    pub settings: serde_json::Value,
    pub seed: u64,
    pub space: String,
    pub space_version: u32,
    pub epochs: u32,
}

impl RunMeta {
    pub fn new(
        method: &str,
        settings: &OneShotSettings,
        seed: u64,
        space: &dyn SearchSpace,
        epochs: u32,
    ) -> Self {
        RunMeta {
            format: FORMAT,
            method: method.to_string(),
            settings: serde_json::to_value(settings).unwrap_or_default(),
            seed,
            space: space.name().to_string(),
            space_version: space.version(),
            epochs,
        }
    }
}

/// `state.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Saved {
    pub run: RunMeta,
    /// Epochs done.
    pub epoch: u32,
    /// Steps done.
    pub step: u64,
    pub tensors: String,
    pub method_state: serde_json::Value,
    pub history: Vec<EpochRecord>,
}

/// What loading found.
pub enum Resumed {
    /// No checkpoint: start from scratch.
    Fresh,
    /// The supernet, optimisers and method now hold the saved state.
    From(Saved),
    /// A checkpoint of another run, or an unreadable one (the reason): start from scratch.
    Ignored(String),
}

fn named_tensors(
    net: &Supernet,
    sgd: &Sgd,
    method: &dyn Method,
) -> (Vec<(String, Tensor)>, serde_json::Value) {
    let mut named: Vec<(String, Tensor)> = net
        .vs
        .variables()
        .into_iter()
        .map(|(n, t)| (format!("{NET_PREFIX}{n}"), t))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named.push((ALPHA.to_string(), net.alpha.shallow_clone()));
    named.extend(sgd.state());
    let (tensors, meta) = method.state();
    named.extend(
        tensors
            .into_iter()
            .map(|(n, t)| (format!("{METHOD_PREFIX}{n}"), t)),
    );
    (named, meta)
}

/// Saves the state after `epoch` epochs and `step` steps into `dir`.
#[allow(clippy::too_many_arguments)]
pub fn save(
    dir: &Path,
    net: &Supernet,
    sgd: &Sgd,
    method: &dyn Method,
    run: &RunMeta,
    epoch: u32,
    step: u64,
    history: &[EpochRecord],
) -> Result<(), OneShotError> {
    std::fs::create_dir_all(dir).map_err(|e| OneShotError::io(dir, e))?;
    let (named, method_state) = named_tensors(net, sgd, method);
    let name = format!("state-{epoch}.pt");
    let tensors = dir.join(&name);
    let partial = dir.join(format!("{name}.partial"));
    Tensor::save_multi(&named, &partial).map_err(|e| OneShotError::io(&partial, e))?;
    std::fs::rename(&partial, &tensors).map_err(|e| OneShotError::io(&tensors, e))?;
    let saved = Saved {
        run: run.clone(),
        epoch,
        step,
        tensors: name,
        method_state,
        history: history.to_vec(),
    };
    let text = serde_json::to_string_pretty(&saved).map_err(|e| OneShotError::io(dir, e))?;
    let meta = dir.join(META);
    let meta_partial = dir.join(format!("{META}.partial"));
    std::fs::write(&meta_partial, text).map_err(|e| OneShotError::io(&meta_partial, e))?;
    std::fs::rename(&meta_partial, &meta).map_err(|e| OneShotError::io(&meta, e))?;
    let mut lines = String::new();
    for r in history {
        lines.push_str(&serde_json::to_string(r).map_err(|e| OneShotError::io(dir, e))?);
        lines.push('\n');
    }
    let epochs = dir.join(crate::run::EPOCHS_FILE);
    std::fs::write(&epochs, lines).map_err(|e| OneShotError::io(&epochs, e))?;
    archer_train::checkpoint::remove_older_tensors(dir, &tensors);
    Ok(())
}

/// Loads the checkpoint of `dir` into the supernet, the weights' optimiser and the method,
/// if it belongs to the run `expect` describes.
pub fn load(
    dir: &Path,
    net: &Supernet,
    sgd: &mut Sgd,
    method: &mut dyn Method,
    expect: &RunMeta,
) -> Result<Resumed, OneShotError> {
    let meta_path = dir.join(META);
    let text = match std::fs::read_to_string(&meta_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Resumed::Fresh),
        Err(e) => return Err(OneShotError::io(&meta_path, e)),
    };
    let saved: Saved = match serde_json::from_str(&text) {
        Ok(s) => s,
        Err(e) => return Ok(Resumed::Ignored(format!("{META} is unreadable: {e}"))),
    };
    if saved.run != *expect {
        let what = if saved.run.method != expect.method {
            "method"
        } else if saved.run.seed != expect.seed {
            "seed"
        } else if saved.run.epochs != expect.epochs {
            "epoch count"
        } else if saved.run.settings != expect.settings {
            "settings"
        } else {
            "space or format"
        };
        return Ok(Resumed::Ignored(format!(
            "the checkpoint belongs to a run with another {what}"
        )));
    }
    let path = dir.join(&saved.tensors);
    let mut tensors: HashMap<String, Tensor> = match Tensor::load_multi(&path) {
        Ok(v) => v.into_iter().collect(),
        Err(e) => return Ok(Resumed::Ignored(format!("{}: {e}", path.display()))),
    };
    // Check everything before anything is overwritten.
    let mut targets: Vec<(String, Tensor)> = net
        .vs
        .variables()
        .into_iter()
        .map(|(n, t)| (format!("{NET_PREFIX}{n}"), t))
        .collect();
    targets.push((ALPHA.to_string(), net.alpha.shallow_clone()));
    for (name, t) in &targets {
        match tensors.get(name) {
            Some(s) if s.size() == t.size() => {}
            Some(s) => {
                return Ok(Resumed::Ignored(format!(
                    "{name} has shape {:?}, the supernet {:?}",
                    s.size(),
                    t.size()
                )))
            }
            None => return Ok(Resumed::Ignored(format!("{name} is missing"))),
        }
    }
    if let Err(why) = sgd.check_state(&tensors) {
        return Ok(Resumed::Ignored(why));
    }
    let mut method_tensors: HashMap<String, Tensor> = tensors
        .iter()
        .filter_map(|(n, t)| {
            n.strip_prefix(METHOD_PREFIX)
                .map(|k| (k.to_string(), t.shallow_clone()))
        })
        .collect();
    if let Err(why) = method.load_state(&mut method_tensors, &saved.method_state) {
        return Ok(Resumed::Ignored(why));
    }
    tch::no_grad(|| {
        for (name, t) in &targets {
            let s = &tensors[name];
            t.shallow_clone().copy_(s);
        }
    });
    sgd.load_state(&mut tensors);
    Ok(Resumed::From(saved))
}
