//! The NAS-Bench-201 supernet (AutoDL-Projects' `TinyNetwork` for search): a 3×3 stem conv
//! with batch norm, three stages of `depth` cells with NB201's residual reduction block
//! between them, then batch norm, ReLU, global average pooling and a linear classifier. Each
//! cell's six edges are [`MixedEdge`]s over the space's allowed operations; every cell shares
//! the same α (`edges × candidates`), which lives in a variable store of its own so that the
//! weights' optimiser never sees it.

use archer_space::{Arch, Gene, Nb201Space, SearchSpace, NB201_EDGES};
use archer_train::nb201::Reduction;
use archer_train::ops::{classifier, Conv, FlopTally, Shape};
use tch::nn::{self, Module, ModuleT};
use tch::{Device, Tensor};

use crate::{MixedEdge, Mixing, OneShotError, SearchBn};

/// The supernet's size and input.
#[derive(Clone, Debug, PartialEq)]
pub struct SupernetConfig {
    /// Channels of the first stage (C; the published recipe: 16).
    pub channels: i64,
    /// Cells per stage (N; the published recipe: 5).
    pub depth: usize,
    /// Input `(channels, height, width)`.
    pub input: Shape,
    pub classes: i64,
    /// PC-DARTS's partial channels: `1/K` of each edge's channels through its candidates
    /// (1: all). K must divide C.
    pub partial_channels: i64,
}

#[derive(Debug)]
enum Block {
    Cell(Vec<MixedEdge>),
    Reduction(Box<Reduction>),
}

/// Every architecture of a NAS-Bench-201 space in one network.
#[derive(Debug)]
pub struct Nb201Supernet {
    /// The weights (and batch-norm statistics).
    pub vs: nn::VarStore,
    /// α: its own store, one row per edge in `NB201_EDGES` order, one column per allowed
    /// operation of that edge.
    pub arch_vs: nn::VarStore,
    pub alpha: Tensor,
    /// Per edge, the space's allowed operation indices (into `NB201_OPS`), α's columns.
    ops: Vec<Vec<u16>>,
    stem: Conv,
    stem_bn: SearchBn,
    body: Vec<Block>,
    last_bn: SearchBn,
    head: nn::Linear,
}

impl Nb201Supernet {
    /// The supernet of `space` (an NB201 space, possibly with fewer operations). Every edge
    /// must allow the same number of operations (α is a matrix). α starts at 1e-3 · N(0, 1),
    /// as DARTS, NNI and NASLib start it, drawn from libtorch's generator.
    pub fn new(
        space: &dyn SearchSpace,
        config: &SupernetConfig,
        device: Device,
    ) -> Result<Self, OneShotError> {
        if space.name() != Nb201Space::NAME {
            return Err(OneShotError::Setting(format!(
                "the NAS-Bench-201 supernet searches the nb201 space, not {}",
                space.name()
            )));
        }
        let ops: Vec<Vec<u16>> = space
            .dimensions()
            .iter()
            .map(|d| d.allowed.clone())
            .collect();
        let k = ops[0].len();
        if ops.iter().any(|o| o.len() != k) {
            return Err(OneShotError::Setting(
                "every edge must allow the same operations' count".into(),
            ));
        }
        if config.channels < 1 || config.depth < 1 {
            return Err(OneShotError::Setting(format!(
                "channels = {} and depth = {} must be at least 1",
                config.channels, config.depth
            )));
        }
        let partial = config.partial_channels;
        if partial < 1 || config.channels % partial != 0 {
            return Err(OneShotError::Setting(format!(
                "partial channels K = {partial} must be at least 1 and divide channels = {}",
                config.channels
            )));
        }
        let vs = nn::VarStore::new(device);
        let p = vs.root();
        let tally = FlopTally::default();
        let c = config.channels;
        let stem = Conv::new(&(&p / "stem"), &tally, config.input, c, 3, 1, 1, 1, 1);
        let stem_bn = SearchBn::new(&(&p / "stem_bn"), c, true);
        let mut shape = stem.out;
        let mut body = Vec::new();
        for stage in 0..3 {
            if stage > 0 {
                let r =
                    Reduction::new(&(&p / format!("reduce{stage}")), &tally, shape, 2 * shape.c);
                shape = r.out;
                body.push(Block::Reduction(Box::new(r)));
            }
            for cell in 0..config.depth {
                let q = &p / format!("stage{stage}_cell{cell}");
                let edges = ops
                    .iter()
                    .enumerate()
                    .map(|(e, allowed)| {
                        let names: Vec<&str> = allowed
                            .iter()
                            .map(|&o| archer_space::NB201_OPS[usize::from(o)])
                            .collect();
                        MixedEdge::with_partial_channels(
                            &(&q / format!("edge{e}")),
                            &names,
                            shape,
                            partial,
                        )
                    })
                    .collect();
                body.push(Block::Cell(edges));
            }
        }
        let last_bn = SearchBn::new(&(&p / "last_bn"), shape.c, true);
        let head = classifier(&(&p / "classifier"), &tally, shape.c, config.classes);
        let arch_vs = nn::VarStore::new(device);
        let alpha = arch_vs
            .root()
            .randn("alpha", &[ops.len() as i64, k as i64], 0.0, 1e-3);
        Ok(Nb201Supernet {
            vs,
            arch_vs,
            alpha,
            ops,
            stem,
            stem_bn,
            body,
            last_bn,
            head,
        })
    }

    /// Logits of `x`, every cell's edge `e` mixed by `mixing[e]`.
    pub fn forward_t(&self, x: &Tensor, mixing: &[Mixing], train: bool) -> Tensor {
        let mut h = self.stem_bn.forward_t(&self.stem.forward(x), train);
        for block in &self.body {
            h = match block {
                Block::Reduction(r) => r.forward_t(&h, train),
                Block::Cell(edges) => cell(edges, &h, mixing, train),
            };
        }
        self.last_bn
            .forward_t(&h, train)
            .relu()
            .adaptive_avg_pool2d([1, 1])
            .flatten(1, -1)
            .apply(&self.head)
    }

    /// The architecture α prefers: the argmax of every row (`none` included, as the NB201
    /// recipe derives it).
    pub fn derive(&self) -> Arch {
        let best = Vec::<i64>::try_from(self.alpha.argmax(-1, false)).expect("one index per edge");
        let best: Vec<usize> = best.iter().map(|&i| i as usize).collect();
        self.arch_of(&best)
    }

    /// The architecture that takes candidate `choice[e]` (a column of α) on edge `e`.
    pub fn arch_of(&self, choice: &[usize]) -> Arch {
        let genes = choice
            .iter()
            .zip(&self.ops)
            .map(|(&i, allowed)| Gene::Index(allowed[i]))
            .collect();
        Arch::from_genes(Nb201Space::NAME, Nb201Space::VERSION, genes)
    }

    /// The mixing of each edge for architecture `arch` of the space: its operation alone.
    pub fn single_path(&self, arch: &Arch) -> Result<Vec<Mixing<'static>>, OneShotError> {
        arch.genes
            .iter()
            .zip(&self.ops)
            .map(|(g, allowed)| {
                g.index()
                    .and_then(|v| allowed.iter().position(|&a| a == v))
                    .map(Mixing::Single)
                    .ok_or_else(|| {
                        OneShotError::Setting(format!("{g:?} is not an operation of the supernet"))
                    })
            })
            .collect()
    }

    /// The count of trainable weights (α not included).
    pub fn params(&self) -> u64 {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as u64)
            .sum()
    }

    /// Everything in double precision (for gradient checks).
    pub fn double(&mut self) {
        self.vs.double();
        self.arch_vs.double();
    }
}

/// One cell: node j sums its edges from every earlier node; the last node is the output.
fn cell(edges: &[MixedEdge], x: &Tensor, mixing: &[Mixing], train: bool) -> Tensor {
    let mut nodes = vec![x.shallow_clone()];
    for target in 1..4 {
        let mut sum: Option<Tensor> = None;
        for (e, &(from, to)) in NB201_EDGES.iter().enumerate() {
            if to != target {
                continue;
            }
            let y = edges[e].forward_t(&nodes[from], mixing[e], train);
            sum = Some(match sum {
                Some(s) => s + y,
                None => y,
            });
        }
        nodes.push(sum.expect("every node has an edge"));
    }
    nodes.pop().expect("four nodes")
}
