//! NAO's network (Luo et al. 2018): an LSTM encoder maps an architecture's decision
//! sequence to a continuous embedding, an MLP predicts its performance from the embedding,
//! and an LSTM decoder with attention reconstructs the sequence.
//!
//! Tokens: position `t` is dimension `t`, its vocabulary the dimension's choices
//! (`archer_strategy::decisions::actions`) plus one token for "absent" (a dimension whose
//! condition fails). Each position has its own embedding table and its own output head, so
//! every decoded token is a value of its dimension.

use archer_rng::Rng;
use archer_space::{Dimension, Gene};
use archer_strategy::decisions;
use tch::Tensor;

use crate::lstm::Lstm;
use crate::params::{Params, DTYPE};

/// The network's sizes and its loss's trade-off.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NaoShape {
    pub(crate) embedding: usize,
    pub(crate) hidden: usize,
    pub(crate) mlp_layers: usize,
    pub(crate) mlp_hidden: usize,
    pub(crate) init_range: f64,
}

pub(crate) struct NaoModel {
    params: Params,
    /// Per position, its vocabulary size and the offset of its tokens in the joint
    /// vocabulary (all positions' tokens side by side).
    vocab: Vec<i64>,
    offsets: Tensor,
    /// (T, joint vocabulary): 0 where a token belongs to the position, a large negative
    /// number elsewhere, added to the decoder's logits.
    mask: Tensor,
    encoder_embedding: Tensor,
    encoder: Lstm,
    mlp: Vec<(Tensor, Tensor)>,
    decoder_start: Tensor,
    decoder_embedding: Tensor,
    decoder: Lstm,
    /// Attention output: (hidden, 2·hidden) on [decoder output; context].
    attention: (Tensor, Tensor),
    /// Output layer onto the joint vocabulary.
    head: (Tensor, Tensor),
}

/// The encoder's outputs for a batch, (batch, T, hidden), each position L2-normalised.
pub(crate) struct Encoded {
    pub(crate) outputs: Tensor,
}

/// Each row of `x` (last dimension) scaled to unit L2 norm.
fn normalize(x: &Tensor) -> Tensor {
    let norm = x
        .square()
        .sum_dim_intlist(-1, true, DTYPE)
        .sqrt()
        .clamp_min(1e-12);
    x / norm
}

/// The architecture embedding of encoder outputs: their normalised mean over positions.
fn embedding_of(outputs: &Tensor) -> Tensor {
    normalize(&outputs.mean_dim(1, false, DTYPE))
}

const MASKED: f64 = -1e9;

impl NaoModel {
    pub(crate) fn new(dims: &[Dimension], shape: &NaoShape, rng: &mut Rng) -> Self {
        let mut params = Params::new();
        let (e, h, r) = (
            shape.embedding as i64,
            shape.hidden as i64,
            shape.init_range,
        );
        let vocab: Vec<i64> = dims
            .iter()
            .map(|d| decisions::actions(d) as i64 + 1)
            .collect();
        let total: i64 = vocab.iter().sum();
        let starts: Vec<i64> = vocab
            .iter()
            .scan(0, |acc, &v| {
                let start = *acc;
                *acc += v;
                Some(start)
            })
            .collect();
        let mut mask = vec![MASKED; (vocab.len() as i64 * total) as usize];
        for (t, (&start, &v)) in starts.iter().zip(&vocab).enumerate() {
            for k in start..start + v {
                mask[t * total as usize + k as usize] = 0.0;
            }
        }
        let mask = crate::params::tensor(&mask, &[vocab.len() as i64, total]);
        let encoder_embedding = params.uniform(&[total, e], r, rng);
        let encoder = Lstm::new(&mut params, rng, e, h, 1, r);
        let mut mlp = Vec::new();
        let mut width = h;
        for _ in 0..shape.mlp_layers {
            let m = shape.mlp_hidden as i64;
            mlp.push((params.uniform(&[m, width], r, rng), params.zeros(&[m])));
            width = m;
        }
        mlp.push((params.uniform(&[1, width], r, rng), params.zeros(&[1])));
        let decoder_start = params.uniform(&[1, 1, e], r, rng);
        let decoder_embedding = params.uniform(&[total, e], r, rng);
        let decoder = Lstm::new(&mut params, rng, e, h, 1, r);
        let attention = (params.uniform(&[h, 2 * h], r, rng), params.zeros(&[h]));
        let head = (params.uniform(&[total, h], r, rng), params.zeros(&[total]));
        NaoModel {
            params,
            offsets: Tensor::from_slice(&starts),
            vocab,
            mask,
            encoder_embedding,
            encoder,
            mlp,
            decoder_start,
            decoder_embedding,
            decoder,
            attention,
            head,
        }
    }

    pub(crate) fn params(&self) -> &Params {
        &self.params
    }

    pub(crate) fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }

    /// The token of each dimension for `genes` (absent → the last token), `None` if a gene
    /// is no value of its dimension's decision.
    pub(crate) fn tokens(&self, dims: &[Dimension], genes: &[Gene]) -> Option<Vec<i64>> {
        if genes.len() != dims.len() {
            return None;
        }
        dims.iter()
            .zip(genes)
            .zip(&self.vocab)
            .map(|((d, &g), &v)| decisions::action_of(d, g).map(|a| a.map_or(v - 1, |a| a as i64)))
            .collect()
    }

    /// The genes tokens stand for (continuous values drawn within their bin with `rng`);
    /// conditions are not checked here.
    pub(crate) fn genes(&self, dims: &[Dimension], tokens: &[i64], rng: &mut Rng) -> Vec<Gene> {
        dims.iter()
            .zip(tokens)
            .zip(&self.vocab)
            .map(|((d, &t), &v)| {
                if t == v - 1 {
                    Gene::Absent
                } else {
                    decisions::gene_for(d, t as usize, rng)
                }
            })
            .collect()
    }

    /// Embeddings from `table` of position-local tokens (batch, T): (batch, T, embedding).
    fn embed(&self, table: &Tensor, tokens: &Tensor) -> Tensor {
        let joint = tokens + &self.offsets;
        let size = joint.size();
        table
            .index_select(0, &joint.reshape([-1]))
            .reshape([size[0], size[1], -1])
    }

    /// Encodes a batch of token rows (batch, T).
    pub(crate) fn encode(&self, tokens: &Tensor) -> Encoded {
        let x = self.embed(&self.encoder_embedding, tokens);
        let (outputs, _) = self
            .encoder
            .run(&x, &self.encoder.zero_state(tokens.size()[0]));
        Encoded {
            outputs: normalize(&outputs),
        }
    }

    /// The predicted performance in (0, 1) of each encoded row, (batch).
    pub(crate) fn predict(&self, encoded: &Encoded) -> Tensor {
        self.predict_embedding(&embedding_of(&encoded.outputs))
    }

    fn predict_embedding(&self, embedding: &Tensor) -> Tensor {
        let mut x = embedding.shallow_clone();
        let last = self.mlp.len() - 1;
        for (i, (w, b)) in self.mlp.iter().enumerate() {
            x = x.matmul(&w.tr()) + b;
            if i < last {
                x = x.relu();
            }
        }
        x.squeeze_dim(1).sigmoid()
    }

    /// Decoder outputs (batch, S, hidden) → masked logits (batch, S, joint vocabulary) for
    /// positions `from..from + S`, by dot-product attention over the encoder `outputs`
    /// (Luong et al.'s global attention, as NAO's decoder).
    fn logits(&self, decoded: &Tensor, outputs: &Tensor, from: i64) -> Tensor {
        let weights = decoded.bmm(&outputs.transpose(1, 2)).softmax(-1, DTYPE);
        let context = weights.bmm(outputs);
        let (wa, ba) = &self.attention;
        let attended = (Tensor::cat(&[decoded, &context], 2).matmul(&wa.tr()) + ba).tanh();
        let (w, b) = &self.head;
        let steps = decoded.size()[1];
        attended.matmul(&w.tr()) + b + self.mask.narrow(0, from, steps)
    }

    /// The mean cross-entropy of reconstructing `tokens` from `encoded` (teacher forcing).
    pub(crate) fn reconstruction_loss(&self, encoded: &Encoded, tokens: &Tensor) -> Tensor {
        let (batch, steps) = (tokens.size()[0], tokens.size()[1]);
        let start = self.decoder_start.expand([batch, 1, -1], false);
        let previous = self
            .embed(&self.decoder_embedding, tokens)
            .narrow(1, 0, steps - 1);
        let inputs = Tensor::cat(&[start, previous], 1);
        let state = self.decoder.state_from(&embedding_of(&encoded.outputs));
        let (decoded, _) = self.decoder.run(&inputs, &state);
        let log_probs = self
            .logits(&decoded, &encoded.outputs, 0)
            .log_softmax(-1, DTYPE);
        let targets = (tokens + &self.offsets).unsqueeze(2);
        -log_probs.gather(2, &targets, false).mean(DTYPE)
    }

    /// Greedy decoding of the encoder outputs `outputs` (batch, T, hidden): token rows.
    pub(crate) fn decode(&self, outputs: &Tensor) -> Vec<Vec<i64>> {
        tch::no_grad(|| {
            let batch = outputs.size()[0];
            let mut state = self.decoder.state_from(&embedding_of(outputs));
            let mut input = self.decoder_start.expand([batch, 1, -1], false);
            let mut columns = Vec::with_capacity(self.vocab.len());
            for t in 0..self.vocab.len() as i64 {
                let (decoded, next) = self.decoder.run(&input, &state);
                let joint = self
                    .logits(&decoded, outputs, t)
                    .squeeze_dim(1)
                    .argmax(1, false);
                input = self.decoder_embedding.index_select(0, &joint).unsqueeze(1);
                let local = joint - self.offsets.get(t);
                columns.push(Vec::<i64>::try_from(&local).expect("int64 tokens"));
                state = next;
            }
            (0..batch as usize)
                .map(|b| columns.iter().map(|c| c[b]).collect())
                .collect()
        })
    }

    /// The decodes of `tokens`' encoder outputs moved along the gradient of the predicted
    /// performance with step sizes 1, 2, … `steps`, all in one batch: rows step-major (every
    /// row's step 1, then every row's step 2, …).
    pub(crate) fn decode_moves(&self, tokens: &Tensor, steps: usize) -> Vec<Vec<i64>> {
        let (outputs, grads) = self.ascend(tokens);
        let moves: Vec<Tensor> = (1..=steps)
            .map(|step| moved(&outputs, &grads, step as f64))
            .collect();
        self.decode(&Tensor::cat(&moves, 0))
    }

    /// The encoder outputs of `tokens` and the gradient of the predicted performance with
    /// respect to them (NAO's search direction).
    fn ascend(&self, tokens: &Tensor) -> (Tensor, Tensor) {
        let encoded = self.encode(tokens);
        let outputs = encoded.outputs.detach().set_requires_grad(true);
        let predicted = self.predict_embedding(&embedding_of(&outputs));
        let grads = Tensor::run_backward(&[predicted.sum(DTYPE)], &[&outputs], false, false);
        (outputs.detach(), grads[0].detach())
    }
}

/// `outputs + step · grads`, each position re-normalised.
fn moved(outputs: &Tensor, grads: &Tensor, step: f64) -> Tensor {
    tch::no_grad(|| normalize(&(outputs + grads * step)))
}
