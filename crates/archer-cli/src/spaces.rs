use crate::out::say;
use anyhow::Result;
use archer_space::{builtin_spaces, SpaceConfig};
use clap::{Args, Subcommand};

use crate::UsageError;

#[derive(Args)]
pub struct SpacesArgs {
    #[command(subcommand)]
    command: Option<SpacesCommand>,
}

#[derive(Subcommand)]
enum SpacesCommand {
    /// Explain a space's dimensions and operations.
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
            say("\n`archer spaces show <name>` explains one.")?;
            Ok(())
        }
        Some(SpacesCommand::Show { name }) => {
            let space = SpaceConfig::by_name(&name)
                .and_then(|c| c.build())
                .map_err(|e| UsageError(e.to_string()))?;
            say(format!(
                "{} (version {}), {} architectures\n",
                space.name(),
                space.version(),
                readable(space.size())
            ))?;
            say(format!("{}\n", space.describe()))?;
            say("Dimensions:")?;
            for d in space.dimensions() {
                let allowed: Vec<&str> = d
                    .allowed
                    .iter()
                    .map(|&i| d.choices[i as usize].as_str())
                    .collect();
                say(format!(
                    "  {:<24} {:<6} {}",
                    d.label,
                    format!("{:?}", d.kind).to_lowercase(),
                    allowed.join(", ")
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

/// Exact below a billion, scientific above (`2.76e20`).
fn readable(n: u128) -> String {
    if n < 1_000_000_000 {
        n.to_string()
    } else {
        format!("{:.2e}", n as f64)
    }
}
