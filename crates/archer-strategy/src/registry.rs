//! The open strategy registry: each registered strategy keeps its settings and its builder in
//! its own file, and is listed once (see `strategies/mod.rs` here and `archer-predict`'s
//! registry for the model-based ones). Adding a strategy is one new file plus one line.

use std::marker::PhantomData;
use std::sync::Arc;

use archer_core::Arch;
use archer_rng::Rng;
use archer_space::SearchSpace;
use serde::de::DeserializeOwned;

use crate::{Strategy, StrategyError, WarmStart};

/// The settings of a registered strategy as written in `[strategy]` (without `name`).
pub type Settings = serde_json::Map<String, serde_json::Value>;

/// What a registered strategy is built from.
pub struct BuildContext {
    pub space: Arc<dyn SearchSpace>,
    /// The strategy's own generator (seeded from the study's seed).
    pub rng: Rng,
    /// Architectures to propose first (a zero-cost warm start), best first.
    pub warm_start: Vec<Arch>,
    /// The constraints known before evaluation, when the study has any: strategies should
    /// propose architectures that pass it.
    pub prescreen: Option<Arc<dyn crate::Prescreen>>,
}

/// One kind of strategy in the registry.
pub trait StrategyKind: Sync {
    /// The name accepted in `[strategy] name = ...` and `--strategies`.
    fn name(&self) -> &'static str;

    /// One line for `archer strategies` and help texts.
    fn summary(&self) -> &'static str;

    /// Whether it searches several objectives at once (else it optimises the first).
    fn multi_objective(&self) -> bool {
        false
    }

    /// Checks the settings before anything runs; errors name the key.
    fn check(&self, settings: &Settings) -> Result<(), StrategyError>;

    /// Builds the strategy (settings already checked).
    fn build(
        &self,
        settings: &Settings,
        ctx: BuildContext,
    ) -> Result<Box<dyn Strategy>, StrategyError>;

    /// The name plus what sets `settings` apart from the defaults (`bo_path`, `+zc`), for
    /// reports; the inverse of [`StrategyKind::variants`] and `+zc`.
    fn label(&self, _settings: &Settings) -> String {
        self.name().to_string()
    }

    /// Named variants: a label and the settings (JSON) it stands for.
    fn variants(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// The zero-cost warm start `settings` ask for, if any.
    fn warm_start(&self, _settings: &Settings) -> Option<WarmStart> {
        None
    }

    /// The setting that `+zc` adds (warm-start all the initial samples), for strategies
    /// that have a warm start.
    fn zero_cost_setting(&self, _settings: &Settings) -> Option<(&'static str, usize)> {
        None
    }
}

/// The settings type of a registered strategy: parsed with serde (unknown keys refused),
/// then validated.
pub trait StrategySettings: DeserializeOwned {
    /// Checks ranges; the message names the key (`strategy.population must be ...`).
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The setting (key, value) that `+zc` adds to a configuration `C`.
type ZeroCostSetting<C> = fn(&C) -> (&'static str, usize);

/// How a kind makes its strategy: always, or only for some spaces.
enum Builder<C> {
    Always(fn(C, BuildContext) -> Box<dyn Strategy>),
    /// Fails, with a reason, where the strategy does not apply (for example a space it
    /// cannot search).
    Checked(fn(C, BuildContext) -> Result<Box<dyn Strategy>, StrategyError>),
}

/// A [`StrategyKind`] from a settings type and a builder function: what a strategy file
/// declares as its `KIND`.
pub struct Kind<C> {
    name: &'static str,
    summary: &'static str,
    build: Builder<C>,
    multi_objective: bool,
    variants: &'static [(&'static str, &'static str)],
    label: Option<fn(&C) -> String>,
    warm_start: Option<fn(&C) -> Option<WarmStart>>,
    zero_cost: Option<ZeroCostSetting<C>>,
    settings: PhantomData<fn() -> C>,
}

impl<C> Kind<C> {
    pub const fn new(
        name: &'static str,
        summary: &'static str,
        build: fn(C, BuildContext) -> Box<dyn Strategy>,
    ) -> Self {
        Self::with_builder(name, summary, Builder::Always(build))
    }

    /// A kind whose builder may refuse (a space the strategy cannot search), with a reason.
    pub const fn checked(
        name: &'static str,
        summary: &'static str,
        build: fn(C, BuildContext) -> Result<Box<dyn Strategy>, StrategyError>,
    ) -> Self {
        Self::with_builder(name, summary, Builder::Checked(build))
    }

    const fn with_builder(name: &'static str, summary: &'static str, build: Builder<C>) -> Self {
        Kind {
            name,
            summary,
            build,
            multi_objective: false,
            variants: &[],
            label: None,
            warm_start: None,
            zero_cost: None,
            settings: PhantomData,
        }
    }

    /// Marks the kind as searching several objectives at once.
    pub const fn multi_objective(mut self) -> Self {
        self.multi_objective = true;
        self
    }

    /// Named variants (label, settings as JSON) and the labelling of any settings.
    pub const fn with_variants(
        mut self,
        variants: &'static [(&'static str, &'static str)],
        label: fn(&C) -> String,
    ) -> Self {
        self.variants = variants;
        self.label = Some(label);
        self
    }

    /// A zero-cost warm start read from the settings, and the setting `+zc` adds.
    pub const fn with_warm_start(
        mut self,
        warm_start: fn(&C) -> Option<WarmStart>,
        zero_cost: ZeroCostSetting<C>,
    ) -> Self {
        self.warm_start = Some(warm_start);
        self.zero_cost = Some(zero_cost);
        self
    }
}

impl<C: StrategySettings> Kind<C> {
    fn parse(&self, settings: &Settings) -> Result<C, StrategyError> {
        let bad = |reason: String| StrategyError::InvalidSetting {
            strategy: self.name.to_string(),
            reason,
        };
        let c: C = serde_json::from_value(serde_json::Value::Object(settings.clone()))
            .map_err(|e| bad(format!("[strategy]: {e}")))?;
        c.validate().map_err(bad)?;
        Ok(c)
    }
}

impl<C: StrategySettings> StrategyKind for Kind<C> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn summary(&self) -> &'static str {
        self.summary
    }

    fn multi_objective(&self) -> bool {
        self.multi_objective
    }

    fn check(&self, settings: &Settings) -> Result<(), StrategyError> {
        self.parse(settings).map(|_| ())
    }

    fn build(
        &self,
        settings: &Settings,
        ctx: BuildContext,
    ) -> Result<Box<dyn Strategy>, StrategyError> {
        let c = self.parse(settings)?;
        match self.build {
            Builder::Always(build) => Ok(build(c, ctx)),
            Builder::Checked(build) => build(c, ctx),
        }
    }

    fn label(&self, settings: &Settings) -> String {
        match (self.label, self.parse(settings)) {
            (Some(label), Ok(c)) => label(&c),
            _ => self.name.to_string(),
        }
    }

    fn variants(&self) -> &'static [(&'static str, &'static str)] {
        self.variants
    }

    fn warm_start(&self, settings: &Settings) -> Option<WarmStart> {
        let c = self.parse(settings).ok()?;
        self.warm_start.and_then(|w| w(&c))
    }

    fn zero_cost_setting(&self, settings: &Settings) -> Option<(&'static str, usize)> {
        let c = self.parse(settings).ok()?;
        self.zero_cost.map(|z| z(&c))
    }
}

/// Declares the strategy modules of a registry and the list of their `KIND`s: one entry per
/// strategy, `registry!(KINDS: nsga2, mo_rea)`.
#[macro_export]
macro_rules! registry {
    ($list:ident: $($module:ident),* $(,)?) => {
        $(pub mod $module;)*
        /// Every strategy kind registered here.
        pub static $list: &[&dyn $crate::StrategyKind] = &[$(&$module::KIND),*];
    };
}

/// The kind named `name` among `kinds`.
pub fn find<'a>(kinds: &[&'a dyn StrategyKind], name: &str) -> Option<&'a dyn StrategyKind> {
    kinds.iter().copied().find(|k| k.name() == name)
}
