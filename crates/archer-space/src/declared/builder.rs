//! Declaring a space in Rust, with the primitives of a space file.

use super::items::{
    CellItem, ChoiceItem, FloatItem, InputItem, IntItem, RepeatItem, SpaceDeclaration, When,
};
use super::DeclaredSpace;
use crate::SpaceError;

/// Which list the last item went to, so that [`SpaceBuilder::when`] can find it.
#[derive(Clone, Copy)]
enum Last {
    None,
    Choice,
    Int,
    Float,
    Input,
    Repeat,
    Cell,
}

/// Builds a [`DeclaredSpace`] item by item, checked as a file is:
///
/// ```
/// use archer_space::{SearchSpace, SpaceBuilder};
/// let space = SpaceBuilder::new("tiny-cnn", 1)
///     .choice("conv1", ["conv3x3", "conv5x5"])
///     .int("width", 16, 64, 16)
///     .float("lr", 1e-4, 1e-1, true)
///     .input("skip", ["stem", "block1"], 1)
///     .when("conv1", ["conv5x5"])
///     .build()
///     .unwrap();
/// assert_eq!(space.dimensions().len(), 4);
/// ```
pub struct SpaceBuilder {
    declaration: SpaceDeclaration,
    last: Last,
}

fn values<V: Into<serde_json::Value>>(
    items: impl IntoIterator<Item = V>,
) -> Vec<serde_json::Value> {
    items.into_iter().map(Into::into).collect()
}

impl SpaceBuilder {
    pub fn new(name: &str, version: u32) -> Self {
        SpaceBuilder {
            declaration: SpaceDeclaration {
                name: name.to_string(),
                version,
                ..SpaceDeclaration::default()
            },
            last: Last::None,
        }
    }

    /// The paragraph `archer spaces show` prints.
    pub fn description(mut self, text: &str) -> Self {
        self.declaration.description = Some(text.to_string());
        self
    }

    /// One of `options` (strings or numbers).
    pub fn choice<V: Into<serde_json::Value>>(
        mut self,
        name: &str,
        options: impl IntoIterator<Item = V>,
    ) -> Self {
        self.declaration.choice.push(ChoiceItem {
            name: name.to_string(),
            options: values(options),
            when: When::new(),
        });
        self.last = Last::Choice;
        self
    }

    /// `low, low + step, ...` up to `high`.
    pub fn int(mut self, name: &str, low: i64, high: i64, step: i64) -> Self {
        self.declaration.int.push(IntItem {
            name: name.to_string(),
            low,
            high,
            step,
            when: When::new(),
        });
        self.last = Last::Int;
        self
    }

    /// A real number in `[low, high]`, log-uniform with `log`.
    pub fn float(mut self, name: &str, low: f64, high: f64, log: bool) -> Self {
        self.declaration.float.push(FloatItem {
            name: name.to_string(),
            low,
            high,
            log,
            when: When::new(),
        });
        self.last = Last::Float;
        self
    }

    /// `n` distinct `candidates`.
    pub fn input<'a>(
        mut self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
        n: usize,
    ) -> Self {
        self.declaration.input.push(InputItem {
            name: name.to_string(),
            candidates: candidates.into_iter().map(String::from).collect(),
            n,
            when: When::new(),
        });
        self.last = Last::Input;
        self
    }

    /// A depth in `min..=max` and a body declared by `body`.
    pub fn repeat(
        mut self,
        name: &str,
        min: u32,
        max: u32,
        body: impl FnOnce(BodyBuilder) -> BodyBuilder,
    ) -> Self {
        let b = body(BodyBuilder(SpaceBuilder::new(name, 0)));
        let d = b.0.declaration;
        self.declaration.repeat.push(RepeatItem {
            name: name.to_string(),
            min,
            max,
            choice: d.choice,
            int: d.int,
            float: d.float,
            input: d.input,
            when: When::new(),
        });
        self.last = Last::Repeat;
        self
    }

    /// A cell (see [`CellItem`] for its settings).
    pub fn cell(mut self, cell: CellItem) -> Self {
        self.declaration.cell.push(cell);
        self.last = Last::Cell;
        self
    }

    /// The last item exists only where `dimension` holds one of `allowed` (several calls
    /// add conditions that must all hold).
    pub fn when<V: Into<serde_json::Value>>(
        mut self,
        dimension: &str,
        allowed: impl IntoIterator<Item = V>,
    ) -> Self {
        let d = &mut self.declaration;
        let when = match self.last {
            Last::Choice => d.choice.last_mut().map(|i| &mut i.when),
            Last::Int => d.int.last_mut().map(|i| &mut i.when),
            Last::Float => d.float.last_mut().map(|i| &mut i.when),
            Last::Input => d.input.last_mut().map(|i| &mut i.when),
            Last::Repeat => d.repeat.last_mut().map(|i| &mut i.when),
            Last::Cell => d.cell.last_mut().map(|i| &mut i.when),
            Last::None => None,
        };
        if let Some(when) = when {
            when.insert(dimension.to_string(), values(allowed));
        }
        self
    }

    /// The declaration as a file would hold it.
    pub fn declaration(&self) -> &SpaceDeclaration {
        &self.declaration
    }

    /// Checks and flattens the declaration.
    pub fn build(self) -> Result<DeclaredSpace, SpaceError> {
        let source = format!("space {:?} (built in code)", self.declaration.name);
        DeclaredSpace::new(self.declaration, &source)
    }
}

/// The body of a repeat: the same item methods as [`SpaceBuilder`] (no nested repeats or
/// cells).
pub struct BodyBuilder(SpaceBuilder);

impl BodyBuilder {
    pub fn choice<V: Into<serde_json::Value>>(
        self,
        name: &str,
        options: impl IntoIterator<Item = V>,
    ) -> Self {
        BodyBuilder(self.0.choice(name, options))
    }

    pub fn int(self, name: &str, low: i64, high: i64, step: i64) -> Self {
        BodyBuilder(self.0.int(name, low, high, step))
    }

    pub fn float(self, name: &str, low: f64, high: f64, log: bool) -> Self {
        BodyBuilder(self.0.float(name, low, high, log))
    }

    pub fn input<'a>(
        self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
        n: usize,
    ) -> Self {
        BodyBuilder(self.0.input(name, candidates, n))
    }

    /// The last body item exists only where `dimension` (a body item's short name, or any
    /// dimension of the space) holds one of `allowed`.
    pub fn when<V: Into<serde_json::Value>>(
        self,
        dimension: &str,
        allowed: impl IntoIterator<Item = V>,
    ) -> Self {
        BodyBuilder(self.0.when(dimension, allowed))
    }
}
