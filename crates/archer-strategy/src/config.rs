use std::sync::Arc;

use archer_rng::Rng;
use archer_space::SearchSpace;
use serde::{Deserialize, Serialize};

use crate::registry::Settings;
use crate::{Dedup, Strategy, StrategyError};

/// The `[strategy]` section of an experiment: a registered strategy's name and its settings
/// as written. Every strategy is a kind of the open registry ([`crate::StrategyKind`]; the
/// model-free ones are listed in this crate, the model-based ones in `archer-predict`),
/// which checks the settings when the experiment is validated and builds the strategy.
#[derive(Clone, Debug, PartialEq)]
pub struct StrategyConfig {
    pub name: String,
    pub settings: Settings,
}

/// Older names that mean the same strategy.
const ALIASES: [(&str, &str); 4] = [
    ("random_search", "random"),
    ("regularized_evolution", "rea"),
    ("local_search", "ls"),
    ("bayesian_optimisation", "bo"),
];

impl<'de> Deserialize<'de> for StrategyConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut settings = Settings::deserialize(d)?;
        let name = match settings.remove("name") {
            Some(serde_json::Value::String(n)) => n,
            Some(_) => return Err(D::Error::custom("strategy.name must be a string")),
            None => return Err(D::Error::missing_field("name")),
        };
        Ok(StrategyConfig {
            name: Self::canonical(&name).to_string(),
            settings,
        })
    }
}

impl Serialize for StrategyConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = self.settings.clone();
        map.insert("name".into(), serde_json::Value::String(self.name.clone()));
        map.serialize(s)
    }
}

impl StrategyConfig {
    /// The strategy `name` with its default settings (the registry checks the name).
    pub fn named(name: &str) -> Self {
        StrategyConfig {
            name: Self::canonical(name).to_string(),
            settings: Settings::new(),
        }
    }

    /// `name`, or the name it is an older alias of.
    pub fn canonical(name: &str) -> &str {
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map_or(name, |(_, canonical)| canonical)
    }

    /// `self` with `key` set to `value` (for variants and tests).
    pub fn with(mut self, key: &str, value: serde_json::Value) -> Self {
        self.settings.insert(key.to_string(), value);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The error for a name the registry does not know; `labels`: every accepted label.
    pub fn unknown(name: &str, labels: &[String]) -> StrategyError {
        StrategyError::InvalidSetting {
            strategy: name.to_string(),
            reason: format!(
                "unknown strategy; accepted: {}, and model-based ones with +zc",
                labels.join(", ")
            ),
        }
    }

    /// The generator seed every strategy built from `seed` starts from.
    pub fn strategy_rng(seed: u64) -> Rng {
        Rng::derive(seed, 0x5354_5241_5445_4759) // "STRATEGY"
    }

    /// Wraps `inner` in [`Dedup`] when `deduplicate`.
    pub fn wrap(
        inner: Box<dyn Strategy>,
        space: Arc<dyn SearchSpace>,
        seed: u64,
        deduplicate: bool,
    ) -> Box<dyn Strategy> {
        let dedup_rng = Rng::derive(seed, 0x0044_4544_5550); // "DEDUP"
        if deduplicate {
            Box::new(Dedup::new(inner, space, dedup_rng))
        } else {
            inner
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_parse_as_their_strategy_and_settings_round_trip() {
        let c: StrategyConfig = serde_json::from_value(
            serde_json::json!({"name": "regularized_evolution", "population": 7}),
        )
        .unwrap();
        assert_eq!(c.name, "rea");
        assert_eq!(c.settings["population"], 7);
        let back: StrategyConfig =
            serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert_eq!(StrategyConfig::named("local_search").name, "ls");
    }
}
