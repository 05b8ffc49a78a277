use serde::{Deserialize, Serialize};

/// One concrete point of a search space: the index of the chosen value for every dimension,
/// tagged with the space's name and version. A small value (it serialises to JSON), never a
/// network. Whether it belongs to a given space is [`crate::SearchSpace::contains`]'s call.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Arch {
    pub space: String,
    pub version: u32,
    pub choices: Vec<u16>,
}

impl Arch {
    pub fn new(space: &str, version: u32, choices: Vec<u16>) -> Self {
        Arch {
            space: space.to_string(),
            version,
            choices,
        }
    }

    /// The same space tag with other choices.
    pub fn with_choices(&self, choices: Vec<u16>) -> Self {
        Arch {
            space: self.space.clone(),
            version: self.version,
            choices,
        }
    }
}
