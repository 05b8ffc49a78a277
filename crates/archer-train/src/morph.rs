//! The weight surgery of network morphism on chain (`macro`) networks (Net2Net, Chen et al.
//! 2016; Auto-Keras, Jin et al. 2019): a child's weights computed from its parent's so that,
//! in evaluation mode, the child gives the parent's outputs before it trains. The morphs
//! themselves are architecture edits ([`archer_space::Morph`], `ChainSpace::morph`):
//!
//! - `Morph::Deepen` appends a `conv` layer with the last layer's filter count and no
//!   skips. Its kernel is the identity and its batch norm the identity (running mean 0,
//!   running variance 1, weight √(1 + ε), bias 0), so it outputs `ReLU(x)`; the classifier
//!   reads `ReLU` of the last layer already, so nothing changes. The space must allow one
//!   more layer (`min_layers` below `layers`), and the new layer may not sit where the
//!   network pools (1/3 and 2/3 of the most layers).
//! - `Morph::Widen` moves one layer's filters to the next larger allowed count. Each new
//!   channel copies an existing one (drawn from the caller's generator) in the layer's conv
//!   and batch norm; every reader's weights for that layer's channels are copied alike and
//!   divided by the number of copies. ReLU and pooling act per channel, so they commute.
//! - `Morph::Skip` turns on a skip connection; its new input channels get zero weights.
//!
//! A morph that would need a new projection (a pool or identity layer whose input and output
//! widths stop matching) cannot preserve the function through its ReLU and is refused.

use std::collections::HashMap;

use archer_rng::Rng;
use archer_space::{Arch, ChainSpace};
use tch::Tensor;

use crate::{Network, TrainError};

/// The ε of libtorch's batch norm (tch's default configuration).
const BN_EPS: f64 = 1e-5;

/// A layer as the network builds it: op, kernel, filters, skip sources.
type Layer = (&'static str, u32, u32, Vec<usize>);

fn refuse(reason: String) -> TrainError {
    TrainError::Setting(format!("morph refused: {reason}"))
}

/// Sets `child`'s weights (a network of `child_arch`, one morph from `parent_arch`, built
/// with the parent's settings) from `parent`'s so that it computes the same function in
/// evaluation mode. `rng` picks the channels a widened layer copies.
pub fn inherit(
    space: &ChainSpace,
    parent: &Network,
    parent_arch: &Arch,
    child: &Network,
    child_arch: &Arch,
    rng: &mut Rng,
) -> Result<(), TrainError> {
    let p_layers: Vec<Layer> = (0..space.layers_of(parent_arch))
        .map(|i| space.layer(parent_arch, i))
        .collect();
    let c_layers: Vec<Layer> = (0..space.layers_of(child_arch))
        .map(|i| space.layer(child_arch, i))
        .collect();
    let pv = parent.vs.variables();
    let cv = child.vs.variables();
    let width =
        |vars: &HashMap<String, Tensor>, name: &str, dim: usize| -> Result<i64, TrainError> {
            vars.get(name)
                .map(|t| t.size()[dim])
                .ok_or_else(|| refuse(format!("the network has no variable {name}")))
        };
    // Channels of each layer's output (and the stem's), parent and child.
    let out_width = |vars: &HashMap<String, Tensor>, layers: &[Layer], i: usize| {
        let (op, _, _, _) = layers[i];
        let name = match op {
            "conv" => format!("layer{i}.conv.weight"),
            "sep_conv" | "dil_conv" => format!("layer{i}.pw.weight"),
            _ if vars.contains_key(&format!("layer{i}.proj.conv.weight")) => {
                format!("layer{i}.proj.conv.weight")
            }
            _ => return Ok(None),
        };
        width(vars, &name, 0).map(Some)
    };
    let stem = width(&pv, "stem.weight", 0)?;
    // For each output: child channel -> parent channel of the same source.
    let mut maps: Vec<Vec<i64>> = Vec::new();
    let mut p_widths: Vec<i64> = Vec::new();
    for i in 0..c_layers.len() {
        let p_in = parent_in_width(i, stem, &p_layers, &p_widths);
        let (pw, map) = if i >= p_layers.len() {
            // The deepened layer passes its input through: the previous layer's map.
            let prev = if i == 0 {
                (0..stem).collect()
            } else {
                maps[i - 1].clone()
            };
            (p_widths[i - 1], prev)
        } else {
            let pw = out_width(&pv, &p_layers, i)?.unwrap_or(p_in);
            let cw = out_width(&cv, &c_layers, i)?.unwrap_or(pw);
            let map = (0..cw)
                .map(|m| {
                    if m < pw {
                        m
                    } else {
                        rng.below(pw as usize) as i64
                    }
                })
                .collect();
            (pw, map)
        };
        p_widths.push(pw);
        maps.push(map);
    }
    // Which parent input channel each child input channel of layer i reads (None: a new
    // skip's channel), and how many child channels read each parent one.
    let inputs = |i: usize| -> (Vec<Option<i64>>, i64) {
        let prev_map: Vec<i64> = if i == 0 {
            (0..stem).collect()
        } else {
            maps[i - 1].clone()
        };
        let mut out: Vec<Option<i64>> = prev_map.into_iter().map(Some).collect();
        let p_skips: &[usize] = p_layers.get(i).map_or(&[], |l| &l.3);
        for &j in &c_layers[i].3 {
            match p_skips.iter().position(|&s| s == j) {
                Some(k) => {
                    // Parent layer i reads its previous layer, then skips k' < k, then j.
                    let offset = parent_in_width(i, stem, &p_layers, &p_widths)
                        - p_skips[k..].iter().map(|&s| p_widths[s]).sum::<i64>();
                    out.extend(maps[j].iter().map(|&m| Some(offset + m)));
                }
                None => out.extend(std::iter::repeat_n(None, maps[j].len())),
            }
        }
        (out, parent_in_width(i, stem, &p_layers, &p_widths))
    };
    let copy = |name: &str, value: Tensor| -> Result<(), TrainError> {
        let target = cv
            .get(name)
            .ok_or_else(|| refuse(format!("the child has no variable {name}")))?;
        if target.size() != value.size() {
            return Err(refuse(format!(
                "{name}: the child's shape {:?} is not the morphed {:?}",
                target.size(),
                value.size()
            )));
        }
        tch::no_grad(|| {
            let mut t = target.shallow_clone();
            t.copy_(&value);
        });
        Ok(())
    };
    let parent_var = |name: &str| -> Result<Tensor, TrainError> {
        pv.get(name)
            .map(|t| t.detach())
            .ok_or_else(|| refuse(format!("the parent has no variable {name}")))
    };
    let bn = |prefix: &str, map: &[i64]| -> Result<(), TrainError> {
        for v in ["weight", "bias", "running_mean", "running_var"] {
            let name = format!("{prefix}.{v}");
            copy(&name, remap_outputs(&parent_var(&name)?, map))?;
        }
        Ok(())
    };
    copy("stem.weight", parent_var("stem.weight")?)?;
    bn("stem_bn", &(0..stem).collect::<Vec<_>>())?;
    for (i, layer) in c_layers.iter().enumerate() {
        let (input, p_in) = inputs(i);
        let map = &maps[i];
        if i >= p_layers.len() {
            // The deepened layer: identity conv, identity batch norm.
            let name = format!("layer{i}.conv.weight");
            let t = cv.get(&name).ok_or_else(|| refuse(format!("no {name}")))?;
            let (c, _, k, _) = t.size4().map_err(|e| refuse(e.to_string()))?;
            let w = Tensor::zeros([c, c, k, k], (t.kind(), t.device()));
            for m in 0..c {
                let _ = w.get(m).get(m).get(k / 2).get(k / 2).fill_(1.0);
            }
            copy(&name, w)?;
            let prefix = format!("layer{i}.bn");
            let ones = Tensor::ones([c], (t.kind(), t.device()));
            copy(&format!("{prefix}.weight"), &ones * (1.0 + BN_EPS).sqrt())?;
            copy(&format!("{prefix}.bias"), ones.zeros_like())?;
            copy(&format!("{prefix}.running_mean"), ones.zeros_like())?;
            copy(&format!("{prefix}.running_var"), ones)?;
            continue;
        }
        if layer.0 != p_layers[i].0 || layer.1 != p_layers[i].1 {
            return Err(refuse(format!("layer {i} changed its op or kernel")));
        }
        let p_has_proj = pv.contains_key(&format!("layer{i}.proj.conv.weight"));
        let c_has_proj = cv.contains_key(&format!("layer{i}.proj.conv.weight"));
        let conv_like = |prefix: &str| -> Result<(), TrainError> {
            let name = format!("{prefix}.conv.weight");
            let w = parent_var(&name)?;
            copy(
                &name,
                remap_outputs(&remap_inputs(&w, &input, p_in, 1, true), map),
            )?;
            bn(&format!("{prefix}.bn"), map)
        };
        match layer.0 {
            "conv" => conv_like(&format!("layer{i}"))?,
            "sep_conv" | "dil_conv" => {
                let dw = format!("layer{i}.dw.weight");
                copy(&dw, remap_inputs(&parent_var(&dw)?, &input, p_in, 0, false))?;
                let pw = format!("layer{i}.pw.weight");
                let w = parent_var(&pw)?;
                copy(
                    &pw,
                    remap_outputs(&remap_inputs(&w, &input, p_in, 1, true), map),
                )?;
                bn(&format!("layer{i}.bn"), map)?;
            }
            _ => match (p_has_proj, c_has_proj) {
                (true, true) => conv_like(&format!("layer{i}.proj"))?,
                (false, false) => {
                    if input.iter().enumerate().any(|(k, p)| *p != Some(k as i64)) {
                        return Err(refuse(format!(
                            "layer {i} ({}) would need a projection",
                            layer.0
                        )));
                    }
                }
                _ => {
                    return Err(refuse(format!(
                        "layer {i} ({}) would gain or lose its projection",
                        layer.0
                    )))
                }
            },
        }
    }
    // The classifier reads ReLU of the last layer.
    let last = maps.len() - 1;
    let input: Vec<Option<i64>> = maps[last].iter().map(|&m| Some(m)).collect();
    let w = parent_var("classifier.weight")?;
    copy(
        "classifier.weight",
        remap_inputs(&w, &input, p_widths[p_layers.len() - 1], 1, true),
    )?;
    copy("classifier.bias", parent_var("classifier.bias")?)
}

/// Channels parent layer `i` reads: its previous layer's (the stem's for layer 0) and its
/// skip sources', given the parent's output widths of the layers before `i`. A layer the
/// parent lacks (a deepened one) reads the parent's last layer.
fn parent_in_width(i: usize, stem: i64, p_layers: &[Layer], p_widths: &[i64]) -> i64 {
    let prev = if i == 0 { stem } else { p_widths[i - 1] };
    prev + p_layers
        .get(i)
        .map_or(0, |l| l.3.iter().map(|&j| p_widths[j]).sum())
}

/// `t` with dimension `dim` (its input channels) remapped to the child's: child channel `k`
/// takes parent channel `input[k]`, divided (with `divide`) by how many child channels take
/// it, or zeros where `input[k]` is `None` (a new skip's channel). `p_in`: the parent's count.
fn remap_inputs(t: &Tensor, input: &[Option<i64>], p_in: i64, dim: i64, divide: bool) -> Tensor {
    let zero = t.narrow(dim, 0, 1).zeros_like();
    let padded = Tensor::cat(&[t.shallow_clone(), zero], dim);
    let index: Vec<i64> = input.iter().map(|p| p.unwrap_or(p_in)).collect();
    let picked = padded.index_select(dim, &Tensor::from_slice(&index));
    if !divide {
        return picked;
    }
    let mut counts = vec![0u32; p_in as usize];
    for p in input.iter().flatten() {
        counts[*p as usize] += 1;
    }
    let scale: Vec<f32> = input
        .iter()
        .map(|p| p.map_or(0.0, |p| 1.0 / counts[p as usize] as f32))
        .collect();
    let mut shape = vec![1i64; t.dim()];
    shape[dim as usize] = index.len() as i64;
    picked
        * Tensor::from_slice(&scale)
            .to_kind(t.kind())
            .view(shape.as_slice())
}

/// `t` with its output channels (dimension 0) remapped: child channel `m` is parent `map[m]`.
fn remap_outputs(t: &Tensor, map: &[i64]) -> Tensor {
    t.index_select(0, &Tensor::from_slice(map))
}
