//! Checking a [`SpaceDeclaration`] and flattening it into dimensions, in an order where
//! every `when` names an earlier dimension.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::items::{
    CellItem, ChoiceItem, FloatItem, InputItem, IntItem, RepeatItem, SpaceDeclaration, When,
};
use crate::{Condition, Dimension, DimensionKind, SpaceError};

/// Most values one categorical or integer dimension may have (an index is a `u16`, and
/// `u16::MAX` is reserved).
pub const MAX_VALUES: usize = u16::MAX as usize;
/// Most copies a repeat may have.
pub const MAX_REPEAT: u32 = 256;
/// Most computing nodes a cell may have: path encodings list every input-to-output path, and
/// an every-edge cell of n nodes has about 2^n of them.
pub const MAX_CELL_NODES: usize = 12;
/// Most inputs (sources) a cell may have.
pub const MAX_CELL_SOURCES: usize = 8;

/// Where a flattened dimension came from: what its genes mean in labelled output.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Origin {
    /// A `[[choice]]`: the options as written.
    Choice(Vec<serde_json::Value>),
    Int,
    Float,
    /// An `[[input]]`: each index is one set of candidates.
    Input(Vec<Vec<String>>),
    /// A repeat's depth.
    Depth,
    /// The op of one edge of cell `cell`.
    CellOp,
    /// The inputs one node of a cell chose: each index is a set of node numbers.
    CellInputs(Vec<Vec<usize>>),
}

/// Which earlier nodes a cell node reads.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum NodeInputs {
    /// Every earlier node `0..id`, edge `i` through `op_dims[i]` (NAS-Bench-201 form).
    Every,
    /// The set at dimension `dim`'s index in `combos`; the `k`-th node of the set through
    /// `op_dims[k]`.
    Chosen { dim: usize, combos: Vec<Vec<usize>> },
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NodeLayout {
    pub id: usize,
    pub inputs: NodeInputs,
    pub op_dims: Vec<usize>,
}

/// A flattened cell: its settings and where its genes are.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CellLayout {
    pub item: CellItem,
    pub nodes: Vec<NodeLayout>,
    pub dims: Range<usize>,
}

/// A declaration checked and flattened.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Flat {
    pub dims: Vec<Dimension>,
    pub origins: Vec<Origin>,
    pub cells: Vec<CellLayout>,
    /// Groups of dimensions crossover keeps together (a cell node's inputs and ops).
    pub genes: Vec<Range<usize>>,
}

/// An item of any kind, as the flattener walks it.
#[derive(Clone, Copy)]
enum Item<'a> {
    Choice(&'a ChoiceItem),
    Int(&'a IntItem),
    Float(&'a FloatItem),
    Input(&'a InputItem),
    Repeat(&'a RepeatItem),
    Cell(&'a CellItem),
}

impl<'a> Item<'a> {
    fn name(&self) -> &'a str {
        match self {
            Item::Choice(i) => &i.name,
            Item::Int(i) => &i.name,
            Item::Float(i) => &i.name,
            Item::Input(i) => &i.name,
            Item::Repeat(i) => &i.name,
            Item::Cell(i) => &i.name,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Item::Choice(_) => "choice",
            Item::Int(_) => "int",
            Item::Float(_) => "float",
            Item::Input(_) => "input",
            Item::Repeat(_) => "repeat",
            Item::Cell(_) => "cell",
        }
    }

    fn when(&self) -> &'a When {
        match self {
            Item::Choice(i) => &i.when,
            Item::Int(i) => &i.when,
            Item::Float(i) => &i.when,
            Item::Input(i) => &i.when,
            Item::Repeat(i) => &i.when,
            Item::Cell(i) => &i.when,
        }
    }

    fn describe(&self) -> String {
        format!("[[{}]] {:?}", self.kind(), self.name())
    }
}

fn items_of(d: &SpaceDeclaration) -> Vec<Item<'_>> {
    let mut out: Vec<Item> = Vec::new();
    out.extend(d.choice.iter().map(Item::Choice));
    out.extend(d.int.iter().map(Item::Int));
    out.extend(d.float.iter().map(Item::Float));
    out.extend(d.input.iter().map(Item::Input));
    out.extend(d.repeat.iter().map(Item::Repeat));
    out.extend(d.cell.iter().map(Item::Cell));
    out
}

fn body_of(r: &RepeatItem) -> Vec<Item<'_>> {
    let mut out: Vec<Item> = Vec::new();
    out.extend(r.choice.iter().map(Item::Choice));
    out.extend(r.int.iter().map(Item::Int));
    out.extend(r.float.iter().map(Item::Float));
    out.extend(r.input.iter().map(Item::Input));
    out
}

/// Every `k`-subset of `0..n`, each ascending, in lexicographic order.
pub(crate) fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    if k > n {
        return out;
    }
    let mut idx: Vec<usize> = (0..k).collect();
    loop {
        out.push(idx.clone());
        let Some(i) = (0..k).rev().find(|&i| idx[i] != i + n - k) else {
            return out;
        };
        idx[i] += 1;
        for j in i + 1..k {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

/// `C(n, k)`, saturating.
fn binomial(n: usize, k: usize) -> usize {
    if k > n {
        return 0;
    }
    let k = k.min(n - k);
    let mut r: u128 = 1;
    for i in 0..k {
        r = r * (n - i) as u128 / (i + 1) as u128;
        if r > usize::MAX as u128 {
            return usize::MAX;
        }
    }
    r as usize
}

/// Orders `items` so that each comes after the items its `when` depends on (`deps[i]`),
/// keeping file order otherwise; a cycle is an error that lists it.
fn topological(names: &[String], deps: &[BTreeSet<usize>]) -> Result<Vec<usize>, String> {
    let n = names.len();
    let mut state = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
    let mut order = Vec::with_capacity(n);
    fn visit(
        i: usize,
        deps: &[BTreeSet<usize>],
        names: &[String],
        state: &mut [u8],
        stack: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> Result<(), String> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let from = stack.iter().position(|&s| s == i).unwrap_or(0);
                let mut cycle: Vec<&str> =
                    stack[from..].iter().map(|&s| names[s].as_str()).collect();
                cycle.push(&names[i]);
                return Err(cycle.join(" → "));
            }
            _ => {}
        }
        state[i] = 1;
        stack.push(i);
        for &d in &deps[i] {
            visit(d, deps, names, state, stack, order)?;
        }
        stack.pop();
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    for i in 0..n {
        visit(i, deps, names, &mut state, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is empty".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "name {name:?}: use letters, digits, '_' and '-' ('.' joins the names of repeated and cell dimensions)"
        ));
    }
    Ok(())
}

/// The text an option is labelled with: a string as is, a number or bool as written.
fn option_label(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether a value written in a `when` names option `option`.
fn same_value(option: &serde_json::Value, given: &serde_json::Value) -> bool {
    if option == given {
        return true;
    }
    match (option.as_f64(), given.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => option_label(option).is_some_and(|l| Some(l) == option_label(given)),
    }
}

struct Flattener<'a> {
    file: &'a str,
    flat: Flat,
    /// Label → dimension index, for `when`.
    labels: BTreeMap<String, usize>,
}

impl Flattener<'_> {
    fn err(&self, item: &str, reason: impl Into<String>) -> SpaceError {
        SpaceError::Declaration {
            file: self.file.to_string(),
            item: item.to_string(),
            reason: reason.into(),
        }
    }

    fn push(&mut self, what: &str, dim: Dimension, origin: Origin) -> Result<usize, SpaceError> {
        if self.labels.contains_key(&dim.label) {
            return Err(self.err(what, format!("the name {:?} is used twice", dim.label)));
        }
        let i = self.flat.dims.len();
        self.labels.insert(dim.label.clone(), i);
        self.flat.dims.push(dim);
        self.flat.origins.push(origin);
        Ok(i)
    }

    /// The conditions of `when`, names looked up first as `prefix + name`, then as written.
    fn conditions(
        &self,
        what: &str,
        when: &When,
        prefix: &str,
    ) -> Result<Vec<Condition>, SpaceError> {
        let mut out = Vec::new();
        for (name, values) in when {
            let local = format!("{prefix}{name}");
            let Some(&dim) = self.labels.get(&local).or_else(|| self.labels.get(name)) else {
                let known: Vec<&str> = self.labels.keys().map(String::as_str).collect();
                return Err(self.err(
                    what,
                    format!(
                        "`when` names {name:?}, which is not a dimension declared here; dimensions: {}",
                        known.join(", ")
                    ),
                ));
            };
            let d = &self.flat.dims[dim];
            let options: Vec<serde_json::Value> = match &self.flat.origins[dim] {
                Origin::Choice(v) => v.clone(),
                Origin::Int | Origin::Depth => d
                    .choices
                    .iter()
                    .map(|c| serde_json::Value::from(c.parse::<i64>().unwrap_or(0)))
                    .collect(),
                _ => {
                    return Err(self.err(
                        what,
                        format!(
                            "`when` names {name:?}, a {} dimension; a condition can name only a choice, an int or a repeat",
                            format!("{:?}", d.kind).to_lowercase()
                        ),
                    ))
                }
            };
            if values.is_empty() {
                return Err(self.err(what, format!("`when` lists no values for {name:?}")));
            }
            let mut allowed = Vec::new();
            for v in values {
                let Some(at) = options.iter().position(|o| same_value(o, v)) else {
                    return Err(self.err(
                        what,
                        format!(
                            "`when` allows {v} for {name:?}, which is not one of its values: {}",
                            d.choices.join(", ")
                        ),
                    ));
                };
                allowed.push(at as u16);
            }
            allowed.sort_unstable();
            allowed.dedup();
            out.push(Condition {
                dimension: dim,
                values: allowed,
            });
        }
        Ok(out)
    }

    /// Emits one non-repeat item under `label`, with `when` plus `extra` conditions.
    fn emit(
        &mut self,
        what: &str,
        item: Item,
        label: &str,
        prefix: &str,
        extra: &[Condition],
    ) -> Result<(), SpaceError> {
        let mut when = extra.to_vec();
        when.extend(self.conditions(what, item.when(), prefix)?);
        match item {
            Item::Choice(c) => {
                if c.options.is_empty() {
                    return Err(self.err(what, "options is empty"));
                }
                if c.options.len() > MAX_VALUES {
                    return Err(self.err(what, format!("more than {MAX_VALUES} options")));
                }
                let mut labels: Vec<String> = Vec::new();
                for o in &c.options {
                    let l = option_label(o).ok_or_else(|| {
                        self.err(
                            what,
                            format!("option {o} is not a string, a number or a boolean"),
                        )
                    })?;
                    let same = c
                        .options
                        .iter()
                        .take(labels.len())
                        .any(|p| same_value(p, o));
                    if labels.contains(&l) || same {
                        return Err(self.err(what, format!("option {l:?} is listed twice")));
                    }
                    labels.push(l);
                }
                let kind = if c.options.iter().all(|o| o.is_string()) {
                    DimensionKind::Op
                } else {
                    DimensionKind::Value
                };
                let d = Dimension::new(label, kind, labels).when(when);
                self.push(what, d, Origin::Choice(c.options.clone()))?;
            }
            Item::Int(i) => {
                if i.low > i.high {
                    return Err(
                        self.err(what, format!("low = {} is above high = {}", i.low, i.high))
                    );
                }
                if i.step < 1 {
                    return Err(self.err(what, format!("step = {} must be at least 1", i.step)));
                }
                let count = (i128::from(i.high) - i128::from(i.low)) / i128::from(i.step) + 1;
                if count > MAX_VALUES as i128 {
                    return Err(self.err(
                        what,
                        format!(
                            "{count} values; at most {MAX_VALUES} (raise step, or use a [[float]])"
                        ),
                    ));
                }
                // Fits: low and the last value are both within [low, high].
                let high = (i128::from(i.low) + (count - 1) * i128::from(i.step)) as i64;
                let d = Dimension::int(label, DimensionKind::Value, i.low, high, i.step).when(when);
                self.push(what, d, Origin::Int)?;
            }
            Item::Float(f) => {
                if !(f.low.is_finite() && f.high.is_finite()) {
                    return Err(self.err(what, "low and high must be finite"));
                }
                if f.low >= f.high {
                    return Err(self.err(
                        what,
                        format!("low = {} must be below high = {}", f.low, f.high),
                    ));
                }
                if f.log && f.low <= 0.0 {
                    return Err(self.err(what, format!("log = true needs low > 0, got {}", f.low)));
                }
                let d = Dimension::float(label, f.low, f.high, f.log).when(when);
                self.push(what, d, Origin::Float)?;
            }
            Item::Input(inp) => {
                if inp.candidates.is_empty() {
                    return Err(self.err(what, "candidates is empty"));
                }
                let unique: BTreeSet<&String> = inp.candidates.iter().collect();
                if unique.len() != inp.candidates.len() {
                    return Err(self.err(what, "a candidate is listed twice"));
                }
                if inp.n == 0 || inp.n > inp.candidates.len() {
                    return Err(self.err(
                        what,
                        format!(
                            "n = {} must be between 1 and the {} candidates",
                            inp.n,
                            inp.candidates.len()
                        ),
                    ));
                }
                if binomial(inp.candidates.len(), inp.n) > MAX_VALUES {
                    return Err(
                        self.err(what, format!("more than {MAX_VALUES} sets of candidates"))
                    );
                }
                let sets: Vec<Vec<String>> = combinations(inp.candidates.len(), inp.n)
                    .into_iter()
                    .map(|c| c.into_iter().map(|i| inp.candidates[i].clone()).collect())
                    .collect();
                let labels = sets.iter().map(|s| s.join("+")).collect();
                let d = Dimension::new(label, DimensionKind::Input, labels).when(when);
                self.push(what, d, Origin::Input(sets))?;
            }
            Item::Cell(c) => self.emit_cell(what, c, label, when)?,
            Item::Repeat(_) => unreachable!("repeats are emitted by emit_repeat"),
        }
        Ok(())
    }

    /// One edge's op dimension of cell `c`.
    fn push_op(
        &mut self,
        what: &str,
        label: String,
        c: &CellItem,
        when: &[Condition],
    ) -> Result<usize, SpaceError> {
        let d = Dimension::new(label, DimensionKind::Op, c.ops.clone()).when(when.to_vec());
        self.push(what, d, Origin::CellOp)
    }

    fn emit_cell(
        &mut self,
        what: &str,
        c: &CellItem,
        label: &str,
        when: Vec<Condition>,
    ) -> Result<(), SpaceError> {
        if c.ops.is_empty() {
            return Err(self.err(what, "ops is empty"));
        }
        if c.ops.len() > MAX_VALUES {
            return Err(self.err(what, format!("more than {MAX_VALUES} ops")));
        }
        let unique: BTreeSet<&String> = c.ops.iter().collect();
        if unique.len() != c.ops.len() {
            return Err(self.err(what, "an op is listed twice"));
        }
        for (key, op) in [("none_op", &c.none_op), ("identity_op", &c.identity_op)] {
            if let Some(op) = op {
                if !c.ops.contains(op) {
                    return Err(self.err(what, format!("{key} = {op:?} is not one of ops")));
                }
            }
        }
        if c.nodes == 0 || c.nodes > MAX_CELL_NODES {
            return Err(self.err(
                what,
                format!("nodes = {}: between 1 and {MAX_CELL_NODES}", c.nodes),
            ));
        }
        if c.sources == 0 || c.sources > MAX_CELL_SOURCES {
            return Err(self.err(
                what,
                format!("sources = {}: between 1 and {MAX_CELL_SOURCES}", c.sources),
            ));
        }
        if !c.every_edge && (c.inputs == 0 || c.inputs > c.sources) {
            return Err(self.err(
                what,
                format!(
                    "inputs = {}: each node reads between 1 and `sources` = {} earlier nodes (the first node has only the sources before it)",
                    c.inputs, c.sources
                ),
            ));
        }
        let start = self.flat.dims.len();
        let mut nodes = Vec::new();
        for j in 0..c.nodes {
            let id = c.sources + j;
            let group_start = self.flat.dims.len();
            let node = if c.every_edge {
                let mut op_dims = Vec::new();
                for from in 0..id {
                    op_dims.push(self.push_op(what, format!("{label}.e{from}_{id}"), c, &when)?);
                }
                NodeLayout {
                    id,
                    inputs: NodeInputs::Every,
                    op_dims,
                }
            } else {
                if binomial(id, c.inputs) > MAX_VALUES {
                    return Err(self.err(
                        what,
                        format!("node {id} has more than {MAX_VALUES} input sets"),
                    ));
                }
                let combos = combinations(id, c.inputs);
                let labels = combos
                    .iter()
                    .map(|s| {
                        s.iter()
                            .map(|n| n.to_string())
                            .collect::<Vec<_>>()
                            .join("+")
                    })
                    .collect();
                let d = Dimension::new(
                    format!("{label}.n{id}.inputs"),
                    DimensionKind::Input,
                    labels,
                )
                .when(when.clone());
                let dim = self.push(what, d, Origin::CellInputs(combos.clone()))?;
                let mut op_dims = Vec::new();
                for k in 0..c.inputs {
                    op_dims.push(self.push_op(what, format!("{label}.n{id}.op{k}"), c, &when)?);
                }
                NodeLayout {
                    id,
                    inputs: NodeInputs::Chosen { dim, combos },
                    op_dims,
                }
            };
            self.flat.genes.push(group_start..self.flat.dims.len());
            nodes.push(node);
        }
        self.flat.cells.push(CellLayout {
            item: c.clone(),
            nodes,
            dims: start..self.flat.dims.len(),
        });
        Ok(())
    }

    fn emit_repeat(&mut self, what: &str, r: &RepeatItem) -> Result<(), SpaceError> {
        if r.min > r.max {
            return Err(self.err(what, format!("min = {} is above max = {}", r.min, r.max)));
        }
        if r.max == 0 || r.max > MAX_REPEAT {
            return Err(self.err(what, format!("max = {}: between 1 and {MAX_REPEAT}", r.max)));
        }
        let body = body_of(r);
        if body.is_empty() {
            return Err(self.err(what, "the body is empty: add [[repeat.choice]], [[repeat.int]], [[repeat.float]] or [[repeat.input]] items"));
        }
        let own = self.conditions(what, &r.when, "")?;
        let depth = Dimension::int(
            &r.name,
            DimensionKind::Depth,
            i64::from(r.min),
            i64::from(r.max),
            1,
        )
        .when(own.clone());
        let depth_dim = self.push(what, depth, Origin::Depth)?;
        // Local order: body items after the body items their `when` names.
        let names: Vec<String> = body.iter().map(|i| i.name().to_string()).collect();
        for (i, n) in names.iter().enumerate() {
            check_name(n).map_err(|e| self.err(&format!("{what} > {}", body[i].describe()), e))?;
            if names[..i].contains(n) {
                return Err(self.err(what, format!("the name {n:?} is used twice in the body")));
            }
        }
        let deps: Vec<BTreeSet<usize>> = body
            .iter()
            .map(|i| {
                i.when()
                    .keys()
                    .filter_map(|k| names.iter().position(|n| n == k))
                    .collect()
            })
            .collect();
        let order = topological(&names, &deps)
            .map_err(|c| self.err(what, format!("`when` conditions form a cycle: {c}")))?;
        for copy in 0..r.max {
            let prefix = format!("{}.{copy}.", r.name);
            let mut extra = own.clone();
            if copy + 1 > r.min {
                // Copy `copy` exists when the depth is at least copy + 1.
                let values = (0..=(r.max - r.min))
                    .filter(|&i| r.min + i > copy)
                    .map(|i| i as u16)
                    .collect();
                extra.push(Condition {
                    dimension: depth_dim,
                    values,
                });
            }
            for &i in &order {
                let item = body[i];
                let sub = format!("{what} > {}", item.describe());
                self.emit(
                    &sub,
                    item,
                    &format!("{prefix}{}", item.name()),
                    &prefix,
                    &extra,
                )?;
            }
        }
        Ok(())
    }
}

/// Checks `d` and flattens it; errors name `file`, the item and what is wrong.
pub(crate) fn flatten(d: &SpaceDeclaration, file: &str) -> Result<Flat, SpaceError> {
    let mut f = Flattener {
        file,
        flat: Flat {
            dims: Vec::new(),
            origins: Vec::new(),
            cells: Vec::new(),
            genes: Vec::new(),
        },
        labels: BTreeMap::new(),
    };
    let space_err = |reason: String| SpaceError::Declaration {
        file: file.to_string(),
        item: "the file".to_string(),
        reason,
    };
    check_name(&d.name).map_err(|e| space_err(format!("space {e}")))?;
    let items = items_of(d);
    if items.is_empty() {
        return Err(space_err("declares no items: add [[choice]], [[int]], [[float]], [[input]], [[repeat]] or [[cell]]".into()));
    }
    let names: Vec<String> = items.iter().map(|i| i.name().to_string()).collect();
    for (i, item) in items.iter().enumerate() {
        check_name(item.name()).map_err(|e| f.err(&item.describe(), e))?;
        if let Some(first) = names[..i].iter().position(|n| n == item.name()) {
            return Err(f.err(
                &item.describe(),
                format!(
                    "the name {:?} is used twice (also by {})",
                    item.name(),
                    items[first].describe()
                ),
            ));
        }
    }
    // Which top-level item a `when` key depends on: its name, or the repeat a
    // `REPEAT.K.ITEM` label belongs to.
    let owner = |key: &str| {
        names.iter().position(|n| n == key).or_else(|| {
            names
                .iter()
                .position(|n| key.split('.').next() == Some(n.as_str()))
        })
    };
    let mut deps: Vec<BTreeSet<usize>> = Vec::new();
    for item in &items {
        let mut keys: Vec<&String> = item.when().keys().collect();
        if let Item::Repeat(r) = item {
            let local: Vec<&str> = body_of(r).iter().map(|b| b.name()).collect();
            for b in body_of(r) {
                keys.extend(b.when().keys().filter(|k| !local.contains(&k.as_str())));
            }
        }
        let mut set = BTreeSet::new();
        for k in keys {
            let o = owner(k).ok_or_else(|| {
                f.err(
                    &item.describe(),
                    format!(
                        "`when` names {k:?}, which is not a dimension declared here; items: {}",
                        names.join(", ")
                    ),
                )
            })?;
            // A repeat's body may name the repeat's depth or an earlier copy: not a cycle.
            if !(matches!(item, Item::Repeat(_)) && names[o] == item.name()) {
                set.insert(o);
            }
        }
        deps.push(set);
    }
    let order = topological(&names, &deps)
        .map_err(|c| space_err(format!("`when` conditions form a cycle: {c}")))?;
    for i in order {
        let item = items[i];
        let what = item.describe();
        match item {
            Item::Repeat(r) => f.emit_repeat(&what, r)?,
            other => f.emit(&what, other, other.name(), "", &[])?,
        }
    }
    // Dimensions not in a cell node are genes of their own.
    let mut in_group = vec![false; f.flat.dims.len()];
    for g in &f.flat.genes {
        for i in g.clone() {
            in_group[i] = true;
        }
    }
    for (i, grouped) in in_group.into_iter().enumerate() {
        if !grouped {
            f.flat.genes.push(i..i + 1);
        }
    }
    f.flat.genes.sort_by_key(|g| g.start);
    Ok(f.flat)
}
