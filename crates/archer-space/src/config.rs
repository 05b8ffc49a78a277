use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{SearchSpace, SpaceError};

/// The settings of a space as written in `[space]` (without `name`).
pub type SpaceSettings = serde_json::Map<String, serde_json::Value>;

/// One kind of search space in the registry ([`KINDS`]): its settings and builder live in
/// the space's own file.
pub trait SpaceKind: Sync {
    /// The name accepted in `[space] name = ...`.
    fn name(&self) -> &'static str;

    /// Builds the space, validating every setting; errors name the key.
    fn build(&self, settings: &SpaceSettings) -> Result<Arc<dyn SearchSpace>, SpaceError>;
}

/// A [`SpaceKind`] from a settings type (serde, unknown keys refused) and a builder.
pub struct Kind<C> {
    name: &'static str,
    build: fn(C) -> Result<Arc<dyn SearchSpace>, SpaceError>,
    settings: PhantomData<fn() -> C>,
}

impl<C> Kind<C> {
    pub const fn new(
        name: &'static str,
        build: fn(C) -> Result<Arc<dyn SearchSpace>, SpaceError>,
    ) -> Self {
        Kind {
            name,
            build,
            settings: PhantomData,
        }
    }
}

impl<C: DeserializeOwned> SpaceKind for Kind<C> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn build(&self, settings: &SpaceSettings) -> Result<Arc<dyn SearchSpace>, SpaceError> {
        let c: C =
            serde_json::from_value(serde_json::Value::Object(settings.clone())).map_err(|e| {
                SpaceError::InvalidSetting {
                    space: self.name.to_string(),
                    reason: format!("[space]: {e}"),
                }
            })?;
        (self.build)(c)
    }
}

/// Every built-in space kind, one line each.
pub static KINDS: &[&dyn SpaceKind] = &[
    &crate::nb201::KIND,
    &crate::darts::KIND,
    &crate::chain::KIND,
    &DECLARED,
];

/// The kind name of spaces declared in a file.
pub const DECLARED_KIND: &str = "declared";

/// `[space] file = "my-space.toml"`: a declared space. When an experiment is read, the
/// file's declaration is copied in (`declaration`), so that a saved study rebuilds the very
/// space it searched, on any machine, whatever happens to the file later.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclaredSettings {
    file: std::path::PathBuf,
    #[serde(default)]
    declaration: Option<crate::SpaceDeclaration>,
}

static DECLARED: Kind<DeclaredSettings> = Kind::new(DECLARED_KIND, |c| {
    let space = match c.declaration {
        Some(d) => crate::DeclaredSpace::new(d, &c.file.display().to_string())?,
        None => crate::DeclaredSpace::from_file(&c.file)?,
    };
    Ok(Arc::new(space))
});

/// The `[space]` section of an experiment: a registered space's name and its settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SpaceConfig {
    pub name: String,
    pub settings: SpaceSettings,
}

impl<'de> Deserialize<'de> for SpaceConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut settings = SpaceSettings::deserialize(d)?;
        let name = match settings.remove("name") {
            Some(serde_json::Value::String(n)) => n,
            Some(_) => return Err(D::Error::custom("space.name must be a string")),
            None if settings.contains_key("file") => DECLARED_KIND.to_string(),
            None => {
                return Err(D::Error::custom(
                    "[space] needs `name` (a built-in space) or `file` (a space file)",
                ))
            }
        };
        Ok(SpaceConfig { name, settings })
    }
}

impl Serialize for SpaceConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = self.settings.clone();
        map.insert("name".into(), serde_json::Value::String(self.name.clone()));
        map.serialize(s)
    }
}

impl SpaceConfig {
    /// The space `name` with its default settings (the registry checks the name on build).
    pub fn named(name: &str) -> Self {
        SpaceConfig {
            name: name.to_string(),
            settings: SpaceSettings::new(),
        }
    }

    /// `self` with `key` set to `value`.
    pub fn with(mut self, key: &str, value: serde_json::Value) -> Self {
        self.settings.insert(key.to_string(), value);
        self
    }

    /// The names of every registered space.
    pub fn names() -> Vec<&'static str> {
        KINDS.iter().map(|k| k.name()).collect()
    }

    /// The default configuration of a registered space by name.
    pub fn by_name(name: &str) -> Result<SpaceConfig, SpaceError> {
        Self::kind(name)?;
        Ok(Self::named(name))
    }

    fn kind(name: &str) -> Result<&'static dyn SpaceKind, SpaceError> {
        KINDS
            .iter()
            .copied()
            .find(|k| k.name() == name)
            .ok_or_else(|| SpaceError::UnknownSpace {
                name: name.to_string(),
                accepted: Self::names().join(", "),
            })
    }

    /// The declared space in file `path`, its declaration copied in.
    pub fn declared(path: &std::path::Path) -> Result<SpaceConfig, SpaceError> {
        let mut c = SpaceConfig::named(DECLARED_KIND).with(
            "file",
            serde_json::Value::String(path.display().to_string()),
        );
        c.read_file(std::path::Path::new("."))?;
        Ok(c)
    }

    /// For a declared space: takes `file` relative to `base`, makes it absolute, and copies
    /// the file's declaration in (replacing any earlier copy). Other spaces are unchanged.
    pub fn read_file(&mut self, base: &std::path::Path) -> Result<(), SpaceError> {
        if self.name != DECLARED_KIND {
            return Ok(());
        }
        let Some(serde_json::Value::String(file)) = self.settings.get("file") else {
            return Err(SpaceError::InvalidSetting {
                space: DECLARED_KIND.into(),
                reason: "[space] file must be the path of a space file".into(),
            });
        };
        let given = std::path::Path::new(file);
        let joined = if given.is_absolute() {
            given.to_path_buf()
        } else {
            base.join(given)
        };
        let path = std::fs::canonicalize(&joined).unwrap_or(joined);
        if !path.exists() && self.settings.contains_key("declaration") {
            // A saved configuration carries its declaration: it runs without the file.
            return Ok(());
        }
        let declaration = crate::read_declaration(&path)?;
        // Checked here, so that a mistake is reported when the experiment is read.
        crate::DeclaredSpace::new(declaration.clone(), &path.display().to_string())?;
        let value = serde_json::to_value(&declaration).map_err(|e| SpaceError::InvalidSetting {
            space: DECLARED_KIND.into(),
            reason: format!("the declaration does not serialise: {e}"),
        })?;
        self.settings.insert(
            "file".into(),
            serde_json::Value::String(path.display().to_string()),
        );
        self.settings.insert("declaration".into(), value);
        Ok(())
    }

    /// Builds the space, validating every option.
    pub fn build(&self) -> Result<Arc<dyn SearchSpace>, SpaceError> {
        Self::kind(&self.name)?.build(&self.settings)
    }
}

/// Every registered space in its default configuration.
pub fn builtin_spaces() -> Result<Vec<Arc<dyn SearchSpace>>, SpaceError> {
    KINDS
        .iter()
        .filter(|k| k.name() != DECLARED_KIND)
        .map(|k| k.build(&SpaceSettings::new()))
        .collect()
}

/// Indices (sorted, unique) of `given` op names in `vocabulary`; all of them when `None`.
pub(crate) fn allowed_ops(
    space: &str,
    vocabulary: &[&str],
    given: Option<&[String]>,
) -> Result<Vec<u16>, SpaceError> {
    let Some(given) = given else {
        return Ok((0..vocabulary.len() as u16).collect());
    };
    if given.is_empty() {
        return Err(SpaceError::InvalidSetting {
            space: space.to_string(),
            reason: format!("ops must list at least one of: {}", vocabulary.join(", ")),
        });
    }
    let mut out = Vec::new();
    for op in given {
        let i = vocabulary
            .iter()
            .position(|v| v == op)
            .ok_or_else(|| SpaceError::UnknownOp {
                space: space.to_string(),
                op: op.clone(),
                accepted: vocabulary.join(", "),
            })?;
        if !out.contains(&(i as u16)) {
            out.push(i as u16);
        }
    }
    out.sort();
    Ok(out)
}
