use serde::Serialize;

/// What a dimension decides; lets generic code (encoders, controllers) treat kinds differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DimensionKind {
    /// The operation on an edge or layer.
    Op,
    /// Which earlier node feeds a node.
    Input,
    /// A number chosen from a list (kernel size, filters).
    Value,
    /// On/off (e.g. a skip connection).
    Flag,
}

/// One labelled categorical decision. `choices` is the full vocabulary (an `Arch` stores an
/// index into it); `allowed` is the subset this space may pick, so a restricted space's
/// architectures are also valid in the unrestricted one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dimension {
    pub label: String,
    pub kind: DimensionKind,
    pub choices: Vec<String>,
    pub allowed: Vec<u16>,
}

impl Dimension {
    /// A dimension where every choice is allowed.
    pub fn new(label: impl Into<String>, kind: DimensionKind, choices: Vec<String>) -> Self {
        let allowed = (0..choices.len() as u16).collect();
        Dimension {
            label: label.into(),
            kind,
            choices,
            allowed,
        }
    }

    pub fn allows(&self, value: u16) -> bool {
        self.allowed.contains(&value)
    }
}
