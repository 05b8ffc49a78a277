//! A training run's state at the end of an epoch, saved in the trial's checkpoint folder so
//! that a paused or interrupted trial continues exactly where it was: every variable of the
//! network (batch-norm statistics included), the optimizer's momentum buffers and weight
//! average (when the recipe keeps one), and the position in the schedule (epochs done,
//! steps done). The data order, augmentation and
//! torch's generator are drawn per epoch from the trial's seed, so nothing else is needed
//! for the continued run to compute what an uninterrupted one would.
//!
//! Files: `state-<epoch>.pt` (the tensors) and `state.json` (what they are, written last and
//! atomically by rename: a checkpoint exists once its `state.json` names it). A process
//! killed while saving leaves the previous checkpoint in force.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::sgd::Sgd;
use crate::{Network, TrainError};

const META: &str = "state.json";
const FORMAT: u32 = 1;

/// What a checkpoint holds besides its tensors; a checkpoint is used only for the run it
/// belongs to (same architecture, seed and schedule length).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format: u32,
    /// Epochs done.
    pub epoch: u32,
    /// Optimizer steps done (the learning-rate schedule's position).
    pub step: u64,
    /// The schedule's length in epochs.
    pub epochs: u32,
    pub seed: u64,
    /// The architecture, in the space's native form.
    pub arch: String,
    /// The tensor file, in the same folder.
    pub tensors: String,
}

/// What loading found.
#[derive(Debug)]
pub enum Loaded {
    /// No checkpoint in the folder.
    None,
    /// The network and optimizer now hold the state after `epoch` epochs and `step` steps.
    Resumed { epoch: u32, step: u64 },
    /// A checkpoint of another run, or an unreadable one: not used (the reason).
    Ignored(String),
}

fn io(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Setting(format!("checkpoint {}: {e}", path.display()))
}

/// Saves the state after `meta.epoch` epochs into `dir`, replacing the previous checkpoint.
pub fn save(dir: &Path, net: &Network, opt: &Sgd, meta: &CheckpointMeta) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut named: Vec<(String, Tensor)> = net.vs.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named.extend(opt.state());
    let tensors = dir.join(&meta.tensors);
    let partial = dir.join(format!("{}.partial", meta.tensors));
    Tensor::save_multi(&named, &partial).map_err(|e| io(&partial, e))?;
    std::fs::rename(&partial, &tensors).map_err(|e| io(&tensors, e))?;
    let text = serde_json::to_string_pretty(meta).map_err(|e| io(dir, e))?;
    let meta_path = dir.join(META);
    let meta_partial = dir.join(format!("{META}.partial"));
    std::fs::write(&meta_partial, text).map_err(|e| io(&meta_partial, e))?;
    std::fs::rename(&meta_partial, &meta_path).map_err(|e| io(&meta_path, e))?;
    remove_older_tensors(dir, &tensors);
    Ok(())
}

/// Removes every `state-*.pt` of `dir` but `keep`: once `state.json` names `keep`, the older
/// tensor files are no longer read; one that cannot be removed only takes disk space, and
/// the next save tries again.
pub fn remove_older_tensors(dir: &Path, keep: &Path) {
    for old in tensor_files(dir).into_iter().filter(|p| p != keep) {
        let _ = std::fs::remove_file(old);
    }
}

fn tensor_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("state-") && n.ends_with(".pt"))
        })
        .collect()
}

/// The tensor file name of the checkpoint after `epoch` epochs.
pub fn tensors_name(epoch: u32) -> String {
    format!("state-{epoch}.pt")
}

/// Loads the checkpoint of `dir` into `net` and `opt` if it belongs to the run `expect`
/// describes (its epoch and step are taken from the file).
pub fn load(
    dir: &Path,
    net: &mut Network,
    opt: &mut Sgd,
    expect: &CheckpointMeta,
) -> Result<Loaded, TrainError> {
    let accept = |meta: &CheckpointMeta| {
        if meta.arch != expect.arch {
            return Err("architecture");
        }
        if meta.seed != expect.seed {
            return Err("seed");
        }
        if meta.epochs != expect.epochs {
            return Err("schedule length");
        }
        if meta.epoch > expect.epochs {
            return Err("epoch beyond the schedule");
        }
        Ok(())
    };
    let (meta, mut saved) = match read(dir, net, accept) {
        Read::Found(meta, saved) => (meta, saved),
        Read::None => return Ok(Loaded::None),
        Read::Ignored(why) => return Ok(Loaded::Ignored(why)),
    };
    if let Err(why) = opt.check_state(&saved) {
        return Ok(Loaded::Ignored(why));
    }
    copy_into(net, &mut saved);
    opt.load_state(&mut saved);
    Ok(Loaded::Resumed {
        epoch: meta.epoch,
        step: meta.step,
    })
}

/// Loads only the network's weights from the checkpoint of `dir`, whatever run saved them,
/// when they are of architecture `arch` (a parent's final weights, for a morphed child).
pub fn load_weights(dir: &Path, net: &mut Network, arch: &str) -> Result<Loaded, TrainError> {
    let accept = |meta: &CheckpointMeta| {
        if meta.arch != arch {
            return Err("architecture");
        }
        Ok(())
    };
    match read(dir, net, accept) {
        Read::Found(meta, mut saved) => {
            copy_into(net, &mut saved);
            Ok(Loaded::Resumed {
                epoch: meta.epoch,
                step: meta.step,
            })
        }
        Read::None => Ok(Loaded::None),
        Read::Ignored(why) => Ok(Loaded::Ignored(why)),
    }
}

/// A checkpoint as read, before anything is copied.
enum Read {
    None,
    Ignored(String),
    Found(CheckpointMeta, HashMap<String, Tensor>),
}

/// Reads `dir`'s checkpoint when `accept` takes its meta (else why not: "it is of another
/// run (…)") and it has a tensor of the right shape for every variable of `net`.
fn read(
    dir: &Path,
    net: &Network,
    accept: impl Fn(&CheckpointMeta) -> Result<(), &'static str>,
) -> Read {
    let meta_path = dir.join(META);
    let text = match std::fs::read_to_string(&meta_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Read::None,
        Err(e) => return Read::Ignored(format!("{}: {e}", meta_path.display())),
    };
    let meta: CheckpointMeta = match serde_json::from_str(&text) {
        Ok(m) => m,
        Err(e) => return Read::Ignored(format!("{}: {e}", meta_path.display())),
    };
    let accepted = if meta.format == FORMAT {
        accept(&meta)
    } else {
        Err("format")
    };
    if let Err(what) = accepted {
        return Read::Ignored(format!("it is of another run ({what})"));
    }
    let path = dir.join(&meta.tensors);
    let loaded = match Tensor::load_multi_with_device(&path, net.vs.device()) {
        Ok(l) => l,
        Err(e) => return Read::Ignored(format!("{}: {e}", path.display())),
    };
    let saved: HashMap<String, Tensor> = loaded.into_iter().collect();
    // Everything is checked before anything is copied: an ignored checkpoint leaves the
    // freshly built network as it was.
    for (name, var) in net.vs.variables() {
        match saved.get(&name) {
            None => return Read::Ignored(format!("it lacks the variable {name}")),
            Some(value) if value.size() != var.size() => {
                return Read::Ignored(format!(
                    "variable {name} has shape {:?}, the network {:?}",
                    value.size(),
                    var.size()
                ))
            }
            Some(_) => {}
        }
    }
    Read::Found(meta, saved)
}

/// Copies every variable of `net` from `saved` (checked by [`read`]), taking it out.
fn copy_into(net: &mut Network, saved: &mut HashMap<String, Tensor>) {
    for (name, mut var) in net.vs.variables() {
        let value = saved.remove(name.as_str()).expect("checked when read");
        tch::no_grad(|| var.copy_(&value));
    }
}
