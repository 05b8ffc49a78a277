//! GeNet's networks on libtorch (Xie & Yuille 2017, "Genetic CNN"), built from an
//! architecture of a space named `genet` whose dimensions are the binary choices
//! `s<stage>_<i>_<j>` (`examples/spaces/genet.toml`): bit 1 connects node `i` to node `j`
//! (`i < j`, nodes numbered from 1) of stage `stage`.
//!
//! Each stage has a default input node (3×3 conv, BN, ReLU from the stage's input to its
//! channels), its K nodes, and a default output node (the same over the sum of what reaches
//! it), then 2×2 max pooling. A node is a 3×3 conv, BN and ReLU over the sum of its connected
//! predecessors; one without predecessors reads the default input node, one without
//! successors feeds the default output node, and one with neither is left out (a stage whose
//! nodes are all left out joins its input node straight to its output node). Stage `s` has
//! `channels`·2^(s−1) channels (`channels` defaults to 8, GeNet's MNIST setting). Global
//! average pooling and a linear classifier close the network.

use std::collections::BTreeMap;

use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::net::{scaled, NetModule, NetworkBuilder, NetworkSpec};
use crate::ops::{batch_norm, classifier, Conv, FlopTally, Shape};
use crate::TrainError;

/// 3×3 conv → BN → ReLU.
#[derive(Debug)]
struct ConvBnRelu {
    conv: Conv,
    bn: nn::BatchNorm,
}

impl ConvBnRelu {
    fn new(p: &nn::Path, tally: &FlopTally, input: Shape, c: i64) -> Self {
        ConvBnRelu {
            conv: Conv::new(&(p / "conv"), tally, input, c, 3, 1, 1, 1, 1),
            bn: batch_norm(&(p / "bn"), c),
        }
    }
}

impl ModuleT for ConvBnRelu {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply(&self.conv).apply_t(&self.bn, train).relu()
    }
}

/// One stage's connections: `bits[(i, j)]` for every node pair `1 <= i < j <= nodes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenetStage {
    pub nodes: usize,
    pub bits: BTreeMap<(usize, usize), bool>,
}

impl GenetStage {
    fn connected(&self, i: usize, j: usize) -> bool {
        self.bits.get(&(i, j)).copied().unwrap_or(false)
    }

    /// The nodes that are kept (connected to some other node), in order.
    pub fn kept(&self) -> Vec<usize> {
        (1..=self.nodes)
            .filter(|&n| (1..=self.nodes).any(|m| self.connected(n.min(m), n.max(m))))
            .collect()
    }

    /// Node `j`'s predecessors among the kept nodes.
    fn predecessors(&self, j: usize) -> Vec<usize> {
        (1..j).filter(|&i| self.connected(i, j)).collect()
    }

    /// Whether kept node `i` feeds another node.
    fn has_successor(&self, i: usize) -> bool {
        (i + 1..=self.nodes).any(|j| self.connected(i, j))
    }
}

/// `s<stage>_<i>_<j>` as its three numbers.
fn parse_label(label: &str) -> Option<(usize, usize, usize)> {
    let mut numbers = label.strip_prefix('s')?.split('_').map(|x| x.parse().ok());
    let (s, i, j) = (numbers.next()??, numbers.next()??, numbers.next()??);
    numbers.next().is_none().then_some((s, i, j))
}

/// Reads the stages of `arch` from a `genet` space's dimensions; an error names what is off.
pub fn genet_stages(
    space: &dyn archer_space::SearchSpace,
    arch: &archer_space::Arch,
) -> Result<Vec<GenetStage>, TrainError> {
    let bad = |reason: String| {
        TrainError::Setting(format!(
            "a genet space's dimensions are choices s<stage>_<i>_<j> of 0 or 1 (i < j), one per \
             node pair of each stage (examples/spaces/genet.toml): {reason}"
        ))
    };
    let mut stages: BTreeMap<usize, BTreeMap<(usize, usize), bool>> = BTreeMap::new();
    for (d, g) in space.dimensions().iter().zip(&arch.genes) {
        let Some((s, i, j)) = parse_label(&d.label) else {
            return Err(bad(format!("{:?} is not of that form", d.label)));
        };
        if s == 0 || i == 0 || i >= j {
            return Err(bad(format!(
                "{:?} needs stage >= 1 and 1 <= i < j",
                d.label
            )));
        }
        let value = d.label_of(*g);
        let bit = match value.as_str() {
            "0" => false,
            "1" => true,
            other => return Err(bad(format!("{} = {other:?}", d.label))),
        };
        stages.entry(s).or_default().insert((i, j), bit);
    }
    if stages.is_empty() {
        return Err(bad("the space has none".into()));
    }
    let mut out = Vec::new();
    for (expected, (s, bits)) in (1..).zip(stages) {
        if s != expected {
            return Err(bad(format!("stage {expected} is missing")));
        }
        let nodes = bits.keys().map(|&(_, j)| j).max().unwrap_or(0);
        if bits.len() != nodes * (nodes - 1) / 2 {
            return Err(bad(format!(
                "stage {s} has {nodes} nodes but {} of its {} pairs",
                bits.len(),
                nodes * (nodes - 1) / 2
            )));
        }
        out.push(GenetStage { nodes, bits });
    }
    Ok(out)
}

#[derive(Debug)]
struct Stage {
    plan: GenetStage,
    input: ConvBnRelu,
    /// The kept nodes' layers, by node number.
    nodes: BTreeMap<usize, ConvBnRelu>,
    output: ConvBnRelu,
}

impl Stage {
    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let input = self.input.forward_t(xs, train);
        let mut outs: BTreeMap<usize, Tensor> = BTreeMap::new();
        let mut ends: Vec<Tensor> = Vec::new();
        for (&j, layer) in &self.nodes {
            let preds = self.plan.predecessors(j);
            let x = if preds.is_empty() {
                input.shallow_clone()
            } else {
                sum(preds.iter().map(|i| outs[i].shallow_clone()))
            };
            let y = layer.forward_t(&x, train);
            if !self.plan.has_successor(j) {
                ends.push(y.shallow_clone());
            }
            outs.insert(j, y);
        }
        let joined = if ends.is_empty() { input } else { sum(ends) };
        self.output
            .forward_t(&joined, train)
            .max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)
    }
}

fn sum(xs: impl IntoIterator<Item = Tensor>) -> Tensor {
    xs.into_iter()
        .reduce(|a, b| a + b)
        .expect("at least one tensor")
}

/// The whole GeNet network.
#[derive(Debug)]
pub struct GenetModule {
    stages: Vec<Stage>,
    head: nn::Linear,
}

impl GenetModule {
    fn new(
        p: &nn::Path,
        tally: &FlopTally,
        plan: Vec<GenetStage>,
        input: Shape,
        channels: i64,
        classes: i64,
    ) -> Result<Self, TrainError> {
        let mut shape = input;
        let mut stages = Vec::new();
        for (s, plan) in plan.into_iter().enumerate() {
            if shape.h < 2 || shape.w < 2 {
                return Err(TrainError::Setting(format!(
                    "a {}x{} input is too small for {} pooled stages",
                    input.h,
                    input.w,
                    s + 1
                )));
            }
            let c = channels << s;
            let q = p / format!("stage{}", s + 1);
            let inner = Shape::new(c, shape.h, shape.w);
            let stage_input = ConvBnRelu::new(&(&q / "input"), tally, shape, c);
            let nodes = plan
                .kept()
                .into_iter()
                .map(|n| {
                    (
                        n,
                        ConvBnRelu::new(&(&q / format!("node{n}")), tally, inner, c),
                    )
                })
                .collect();
            let output = ConvBnRelu::new(&(&q / "output"), tally, inner, c);
            stages.push(Stage {
                plan,
                input: stage_input,
                nodes,
                output,
            });
            shape = Shape::new(c, shape.h / 2, shape.w / 2);
        }
        Ok(GenetModule {
            head: classifier(&(p / "classifier"), tally, shape.c, classes),
            stages,
        })
    }
}

impl ModuleT for GenetModule {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.shallow_clone();
        for stage in &self.stages {
            x = stage.forward(&x, train);
        }
        x.adaptive_avg_pool2d([1, 1])
            .flatten(1, -1)
            .apply(&self.head)
    }
}

impl NetModule for GenetModule {}

/// Builds GeNet networks: the first stage has `channels` (default 8) channels.
pub(crate) struct GenetBuilder;

pub(crate) const BUILDER: GenetBuilder = GenetBuilder;

impl NetworkBuilder for GenetBuilder {
    fn space(&self) -> &'static str {
        "genet"
    }

    fn build(
        &self,
        spec: &NetworkSpec,
        root: &nn::Path,
        tally: &FlopTally,
    ) -> Result<Box<dyn NetModule>, TrainError> {
        let plan = genet_stages(spec.space, spec.arch)?;
        let channels = scaled(spec.config.channels.unwrap_or(8), spec.width) as i64;
        Ok(Box::new(GenetModule::new(
            root,
            tally,
            plan,
            spec.input,
            channels,
            spec.classes,
        )?))
    }
}
