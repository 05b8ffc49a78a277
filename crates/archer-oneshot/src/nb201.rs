//! The NAS-Bench-201 supernet (AutoDL-Projects' `TinyNetwork` for search): a 3×3 stem conv
//! with batch norm, three stages of `depth` cells with NB201's residual reduction block
//! between them, then batch norm, ReLU, global average pooling and a linear classifier. Each
//! cell's six edges are [`MixedEdge`]s over the space's allowed operations; every cell shares
//! the same α (`edges × candidates`, in `NB201_EDGES` order).

use archer_space::{Arch, Gene, Nb201Space, SearchSpace, NB201_EDGES};
use archer_train::nb201::Reduction;
use archer_train::ops::{classifier, Conv, FlopTally};
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

use crate::supernet::{Built, SupernetBody, SupernetConfig, SupernetKind};
use crate::{MixedEdge, Mixing, OneShotError, SearchBn};

pub static NB201: SupernetKind = SupernetKind {
    space: Nb201Space::NAME,
    default_depth: 5,
    mixes: true,
    recipe: &[],
    // N cells per stage, as the NB201 network counts them.
    network_depth: |n| Some(n as u64),
    build: |space, config, p| {
        let body = Nb201Body::new(space, config, p)?;
        let (rows, columns) = (body.ops.len() as i64, body.ops[0].len() as i64);
        Ok(Built {
            body: Box::new(body),
            rows,
            columns,
        })
    },
};

#[derive(Debug)]
enum Block {
    Cell(Vec<MixedEdge>),
    Reduction(Box<Reduction>),
}

/// Every architecture of a NAS-Bench-201 space in one network.
#[derive(Debug)]
struct Nb201Body {
    /// Per edge, the space's allowed operation indices (into `NB201_OPS`), α's columns.
    ops: Vec<Vec<u16>>,
    stem: Conv,
    stem_bn: SearchBn,
    body: Vec<Block>,
    last_bn: SearchBn,
    head: nn::Linear,
}

impl Nb201Body {
    /// The supernet of `space` (an NB201 space, possibly with fewer operations). Every edge
    /// must allow the same number of operations (α is a matrix).
    fn new(
        space: &dyn SearchSpace,
        config: &SupernetConfig,
        p: &nn::Path,
    ) -> Result<Self, OneShotError> {
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
        let partial = config.partial_channels;
        let tally = FlopTally::default();
        let c = config.channels;
        let stem = Conv::new(&(p / "stem"), &tally, config.input, c, 3, 1, 1, 1, 1);
        let stem_bn = SearchBn::new(&(p / "stem_bn"), c, true);
        let mut shape = stem.out;
        let mut body = Vec::new();
        for stage in 0..3 {
            if stage > 0 {
                let r = Reduction::new(&(p / format!("reduce{stage}")), &tally, shape, 2 * shape.c);
                shape = r.out;
                body.push(Block::Reduction(Box::new(r)));
            }
            for cell in 0..config.depth {
                let q = p / format!("stage{stage}_cell{cell}");
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
        let last_bn = SearchBn::new(&(p / "last_bn"), shape.c, true);
        let head = classifier(&(p / "classifier"), &tally, shape.c, config.classes);
        Ok(Nb201Body {
            ops,
            stem,
            stem_bn,
            body,
            last_bn,
            head,
        })
    }

    /// The architecture that takes candidate `choice[e]` (a column of α) on edge `e`.
    fn arch_of(&self, choice: &[usize]) -> Arch {
        let genes = choice
            .iter()
            .zip(&self.ops)
            .map(|(&i, allowed)| Gene::Index(allowed[i]))
            .collect();
        Arch::from_genes(Nb201Space::NAME, Nb201Space::VERSION, genes)
    }
}

impl SupernetBody for Nb201Body {
    fn forward_t(&self, x: &Tensor, mixing: &[Mixing], train: bool) -> Tensor {
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

    /// The argmax of every row (`none` included, as the NB201 recipe derives it; ties to
    /// the first).
    fn derive(&self, probs: &[Vec<f64>]) -> Option<Arch> {
        let best: Vec<usize> = probs
            .iter()
            .map(|row| (0..row.len()).fold(0, |b, i| if row[i] > row[b] { i } else { b }))
            .collect();
        Some(self.arch_of(&best))
    }

    /// The edges are independent: an exact best-first enumeration of their choices.
    fn ranked(&self, probs: &[Vec<f64>], keep: usize, space: &dyn SearchSpace) -> Vec<(Arch, f64)> {
        let logs: Vec<Vec<f64>> = probs
            .iter()
            .map(|row| row.iter().map(|&p| p.max(0.0).ln()).collect())
            .collect();
        crate::finalists::most_probable_distinct(&logs, keep, space, |c| self.arch_of(c))
    }

    fn single_path(&self, arch: &Arch) -> Result<Vec<Mixing<'static>>, OneShotError> {
        if arch.genes.len() != self.ops.len() {
            return Err(OneShotError::Setting(format!(
                "{} genes for a supernet of {} edges",
                arch.genes.len(),
                self.ops.len()
            )));
        }
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
