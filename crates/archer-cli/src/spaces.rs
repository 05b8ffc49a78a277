use crate::out::say;
use anyhow::Result;
use archer_space::{builtin_spaces, Domain, SpaceConfig};
use clap::{Args, Subcommand};

use crate::UsageError;

#[derive(Args)]
pub struct SpacesArgs {
    #[command(subcommand)]
    command: Option<SpacesCommand>,
}

#[derive(Subcommand)]
enum SpacesCommand {
    /// Explain a space's dimensions and operations: a built-in space's name, or a space
    /// file (`.toml`).
    Show { name: String },
}

pub fn run(args: SpacesArgs) -> Result<()> {
    match args.command {
        None => {
            say(format!(
                "{:<8} {:>10} {:>11}  description",
                "name", "size", "dimensions"
            ))?;
            for space in builtin_spaces()? {
                let first_sentence = space
                    .describe()
                    .split(". ")
                    .next()
                    .unwrap_or_default()
                    .to_string();
                say(format!(
                    "{:<8} {:>10} {:>11}  {first_sentence}",
                    space.name(),
                    readable(space.size()),
                    space.dimensions().len()
                ))?;
            }
            say("\n`archer spaces show <name>` explains one; `archer spaces show FILE.toml` explains a space file.")?;
            Ok(())
        }
        Some(SpacesCommand::Show { name }) => {
            let is_file = name.ends_with(".toml") || std::path::Path::new(&name).is_file();
            let space = if is_file {
                SpaceConfig::declared(std::path::Path::new(&name)).and_then(|c| c.build())
            } else {
                SpaceConfig::by_name(&name).and_then(|c| c.build())
            }
            .map_err(|e| UsageError(e.to_string()))?;
            say(format!(
                "{} (version {}), {} architectures\n",
                space.name(),
                space.version(),
                readable(space.size())
            ))?;
            say(format!("{}\n", space.describe()))?;
            say("Dimensions:")?;
            let dims = space.dimensions();
            for d in dims {
                let values = match d.domain {
                    Domain::Float { low, high, log } => {
                        format!("[{low}, {high}]{}", if log { ", log scale" } else { "" })
                    }
                    Domain::Int { step, .. } if d.allowed.len() > 12 => format!(
                        "{}..={} step {step}",
                        d.choices.first().map_or("", |s| s.as_str()),
                        d.choices.last().map_or("", |s| s.as_str())
                    ),
                    _ => d
                        .allowed
                        .iter()
                        .map(|&i| d.choices[usize::from(i)].as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                let when: Vec<String> = d
                    .when
                    .iter()
                    .map(|c| {
                        let on = &dims[c.dimension];
                        let vals: Vec<&str> = c
                            .values
                            .iter()
                            .map(|&v| on.choices[usize::from(v)].as_str())
                            .collect();
                        format!("{} in {{{}}}", on.label, vals.join(", "))
                    })
                    .collect();
                let when = if when.is_empty() {
                    String::new()
                } else {
                    format!("   (when {})", when.join(" and "))
                };
                say(format!(
                    "  {:<24} {:<10} {values}{when}",
                    d.label,
                    format!("{:?}", d.kind).to_lowercase(),
                ))?;
            }
            let example = space.sample(&mut archer_rng_seed())?;
            say(format!("\nExample: {}", space.format(&example)))?;
            Ok(())
        }
    }
}

fn archer_rng_seed() -> archer_rng::Rng {
    archer_rng::Rng::seed_from(0)
}

/// Exact below a billion, scientific above (`2.76e20`); `u128::MAX` is a continuous space.
pub(crate) fn readable(n: u128) -> String {
    if n == u128::MAX {
        "infinitely many".to_string()
    } else if n < 1_000_000_000 {
        n.to_string()
    } else {
        format!("{:.2e}", n as f64)
    }
}
