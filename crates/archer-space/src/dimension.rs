use serde::Serialize;

use crate::Gene;

/// What a dimension decides; lets generic code (encoders, controllers) treat kinds differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DimensionKind {
    /// The operation on an edge or layer.
    Op,
    /// Which earlier node (or set of nodes) feeds a node.
    Input,
    /// A value chosen from a list (kernel size, filters) or an integer range.
    Value,
    /// On/off (e.g. a skip connection).
    Flag,
    /// A real number in a range.
    Continuous,
    /// The depth of a repeat: how many copies of its body exist.
    Depth,
}

/// The values a dimension takes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Domain {
    /// One of `Dimension::choices`, by index.
    Categorical,
    /// The integer `low + i · step` for index `i` (`Dimension::choices` holds their labels).
    Int { low: i64, step: i64 },
    /// A real number in `[low, high]`; with `log`, uniform in `ln x` (then `low > 0`).
    Float { low: f64, high: f64, log: bool },
}

/// "Dimension `dimension` holds one of the indices `values`": one term of a `when`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Condition {
    pub dimension: usize,
    pub values: Vec<u16>,
}

/// One labelled decision. For categorical and integer domains `choices` is the full
/// vocabulary (an index gene points into it) and `allowed` the subset this space may pick,
/// so a restricted space's architectures are also valid in the unrestricted one; both are
/// empty for a float. The dimension exists only where every [`Condition`] in `when` holds
/// (each names an earlier dimension); elsewhere its gene is [`Gene::Absent`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dimension {
    pub label: String,
    pub kind: DimensionKind,
    pub choices: Vec<String>,
    pub allowed: Vec<u16>,
    pub domain: Domain,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<Condition>,
}

/// Width of the "nudge" neighbours of a float, in the unit interval (see
/// [`Dimension::neighbour_values`]).
pub const FLOAT_NEIGHBOUR_STEPS: [f64; 2] = [0.05, 0.25];

impl Dimension {
    /// A categorical dimension where every choice is allowed.
    pub fn new(label: impl Into<String>, kind: DimensionKind, choices: Vec<String>) -> Self {
        let allowed = (0..choices.len() as u16).collect();
        Dimension {
            label: label.into(),
            kind,
            choices,
            allowed,
            domain: Domain::Categorical,
            when: Vec::new(),
        }
    }

    /// An integer dimension `low, low + step, ..., high` (`high - low` a multiple of step;
    /// at most 65,535 values, checked by the caller).
    pub fn int(
        label: impl Into<String>,
        kind: DimensionKind,
        low: i64,
        high: i64,
        step: i64,
    ) -> Self {
        let count = ((i128::from(high) - i128::from(low)) / i128::from(step) + 1).max(0) as usize;
        let choices = (0..count)
            .map(|i| (i128::from(low) + i as i128 * i128::from(step)).to_string())
            .collect();
        Dimension {
            domain: Domain::Int { low, step },
            ..Self::new(label, kind, choices)
        }
    }

    /// A continuous dimension in `[low, high]`.
    pub fn float(label: impl Into<String>, low: f64, high: f64, log: bool) -> Self {
        Dimension {
            label: label.into(),
            kind: DimensionKind::Continuous,
            choices: Vec::new(),
            allowed: Vec::new(),
            domain: Domain::Float { low, high, log },
            when: Vec::new(),
        }
    }

    /// `self` existing only under `when`.
    pub fn when(mut self, when: Vec<Condition>) -> Self {
        self.when = when;
        self
    }

    pub fn allows(&self, value: u16) -> bool {
        self.allowed.contains(&value)
    }

    pub fn is_float(&self) -> bool {
        matches!(self.domain, Domain::Float { .. })
    }

    pub fn is_conditional(&self) -> bool {
        !self.when.is_empty()
    }

    /// Whether this dimension exists given the genes before it.
    pub fn is_active(&self, genes: &[Gene]) -> bool {
        self.when.iter().all(|c| {
            genes
                .get(c.dimension)
                .and_then(|g| g.index())
                .is_some_and(|v| c.values.contains(&v))
        })
    }

    /// Whether `gene` is a value of this dimension (not `Absent`).
    pub fn admits(&self, gene: Gene) -> bool {
        match (gene, &self.domain) {
            (Gene::Index(i), Domain::Categorical | Domain::Int { .. }) => self.allows(i),
            (Gene::Float(x), Domain::Float { low, high, .. }) => {
                x.is_finite() && *low <= x && x <= *high
            }
            _ => false,
        }
    }

    /// The value at position `u` of the unit interval (log-scaled for a log float).
    pub fn float_at(&self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        match self.domain {
            Domain::Float { low, high, log } if log => (low.ln() + u * (high.ln() - low.ln()))
                .exp()
                .clamp(low, high),
            Domain::Float { low, high, .. } => (low + u * (high - low)).clamp(low, high),
            _ => 0.0,
        }
    }

    /// The position in the unit interval of a gene: a float's (log-)scaled value, an
    /// integer's index over the last index, a categorical's index over the last; 0 for a
    /// one-valued dimension or an absent gene.
    pub fn unit(&self, gene: Gene) -> f64 {
        match (gene, &self.domain) {
            (Gene::Float(x), Domain::Float { low, high, log }) => {
                let (a, b, v) = if *log {
                    (low.ln(), high.ln(), x.max(*low).ln())
                } else {
                    (*low, *high, x)
                };
                if b > a {
                    ((v - a) / (b - a)).clamp(0.0, 1.0)
                } else {
                    0.0
                }
            }
            (Gene::Index(i), _) if self.choices.len() > 1 => {
                f64::from(i) / (self.choices.len() - 1) as f64
            }
            _ => 0.0,
        }
    }

    /// The value written for `gene`: the choice's label, the float in Rust's shortest form,
    /// or `-` when absent.
    pub fn label_of(&self, gene: Gene) -> String {
        match gene {
            Gene::Index(i) => self
                .choices
                .get(usize::from(i))
                .cloned()
                .unwrap_or_else(|| format!("#{i}")),
            Gene::Float(x) => format!("{x}"),
            Gene::Absent => "-".to_string(),
        }
    }

    /// The value a deterministic edit gives a dimension that comes into existence: the
    /// first allowed value, or a float's midpoint.
    pub fn default_gene(&self) -> Gene {
        match self.domain {
            Domain::Float { .. } => Gene::float(self.float_at(0.5)),
            _ => self
                .allowed
                .first()
                .map_or(Gene::Absent, |&v| Gene::Index(v)),
        }
    }

    /// The values one edit away from `gene`, in a fixed order:
    /// - categorical: every other allowed value;
    /// - integer: the allowed values one step below and above;
    /// - float (a finite, documented set): the values at unit positions `u ± 0.05` and
    ///   `u ± 0.25` ([`FLOAT_NEIGHBOUR_STEPS`]) that lie inside the interval.
    pub fn neighbour_values(&self, gene: Gene) -> Vec<Gene> {
        match (&self.domain, gene) {
            (Domain::Categorical, _) => self
                .allowed
                .iter()
                .filter(|&&v| Gene::Index(v) != gene)
                .map(|&v| Gene::Index(v))
                .collect(),
            (Domain::Int { .. }, Gene::Index(i)) => {
                let Some(at) = self.allowed.iter().position(|&v| v == i) else {
                    return Vec::new();
                };
                let mut out = Vec::new();
                if at > 0 {
                    out.push(Gene::Index(self.allowed[at - 1]));
                }
                if let Some(&up) = self.allowed.get(at + 1) {
                    out.push(Gene::Index(up));
                }
                out
            }
            (Domain::Float { .. }, Gene::Float(_)) => {
                let u = self.unit(gene);
                let mut out = Vec::new();
                for step in FLOAT_NEIGHBOUR_STEPS {
                    for v in [u - step, u + step] {
                        if (0.0..=1.0).contains(&v) {
                            let g = Gene::float(self.float_at(v));
                            if g != gene && !out.contains(&g) {
                                out.push(g);
                            }
                        }
                    }
                }
                out
            }
            _ => Vec::new(),
        }
    }
}
