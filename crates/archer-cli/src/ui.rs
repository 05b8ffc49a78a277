//! `archer ui` (the dashboard server) and `archer report` (the same pages as one file).

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Result;
use archer_ui::{Dashboard, ServeOptions};
use clap::Args;

use crate::out::say;
use crate::UsageError;

#[derive(Args)]
pub struct UiArgs {
    /// Experiment folders, folders holding experiment folders, or postgres:// URLs.
    #[arg(required = true)]
    targets: Vec<String>,
    /// Port to listen on (default: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to listen on. Anything but loopback needs --token.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// A secret every request must carry (`?token=` once in the browser, or
    /// `Authorization: Bearer`); `auto` makes a random one. Required off loopback.
    #[arg(long)]
    token: Option<String>,
}

#[derive(Args)]
pub struct ReportArgs {
    /// An experiment folder or a postgres:// URL.
    target: String,
    /// The study, when the store holds several.
    #[arg(long)]
    study: Option<String>,
    /// The HTML file to write (default: `report.html` in the experiment folder).
    #[arg(long)]
    output: Option<PathBuf>,
}

/// A target that holds no study, or cannot be read as one, is the user's input (exit 2).
fn bad_target(e: archer_ui::UiError) -> anyhow::Error {
    match e {
        archer_ui::UiError::NoStudies(_) | archer_ui::UiError::Target { .. } => {
            anyhow::Error::new(UsageError(e.to_string()))
        }
        other => other.into(),
    }
}

pub fn ui(args: UiArgs) -> Result<()> {
    let options = ServeOptions {
        bind: args.bind,
        port: args.port,
        token: args.token,
    };
    let token = archer_ui::resolve_token(&options).map_err(|e| UsageError(e.to_string()))?;
    let dashboard = Dashboard::open(&args.targets, token).map_err(bad_target)?;
    let (opened, broken) = dashboard.counts();
    archer_ui::serve(dashboard, &options, |url| {
        let _ = say(format!(
            "archer ui: {opened} studies{} at {url}  (Ctrl-C stops; nothing is written to any study)",
            if broken > 0 {
                format!(" ({broken} more could not be opened; the studies page says why)")
            } else {
                String::new()
            }
        ));
    })?;
    Ok(())
}

pub fn report(args: ReportArgs) -> Result<()> {
    let output = match args.output {
        Some(o) => o,
        None if archer_store::is_postgres_url(&args.target) => PathBuf::from("report.html"),
        None => PathBuf::from(&args.target).join("report.html"),
    };
    let (study, bytes) = archer_ui::write_report(&args.target, args.study.as_deref(), &output)
        .map_err(bad_target)?;
    say(format!(
        "wrote {} ({:.1} KB): study {study}, self-contained (opens with no network)",
        output.display(),
        bytes as f64 / 1024.0
    ))?;
    Ok(())
}
