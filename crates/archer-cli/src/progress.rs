//! The progress bar of `search` and `resume`: trials done / total, best so far, ETA.

use archer_core::TrialState;
use archer_runner::{Event, Experiment};
use indicatif::{ProgressBar, ProgressStyle};

/// What the bar counts: trials if the budget limits them, else (simulated) seconds.
enum Unit {
    Trials,
    SimSeconds,
    WallSeconds,
}

pub struct Progress {
    bar: ProgressBar,
    unit: Unit,
    objective: String,
    quiet: bool,
}

impl Progress {
    pub fn new(e: &Experiment, done_trials: u64, done_sim: f64, quiet: bool) -> Self {
        let b = &e.config.budget;
        let (unit, len, pos, template) = if let Some(t) = b.trials {
            (
                Unit::Trials,
                t,
                done_trials,
                "{bar:30} {pos}/{len} trials | {msg} | ETA {eta}",
            )
        } else if let Some(s) = b.sim_seconds {
            (
                Unit::SimSeconds,
                s as u64,
                done_sim as u64,
                "{bar:30} {pos}/{len} sim s | {msg} | ETA {eta}",
            )
        } else {
            (
                Unit::WallSeconds,
                b.wall_seconds.unwrap_or(0.0) as u64,
                0,
                "{bar:30} {elapsed} | {msg}",
            )
        };
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(len)
        };
        bar.set_style(
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(pos.min(len));
        bar.set_message("no result yet");
        Progress {
            bar,
            unit,
            objective: e.primary().metric.clone(),
            quiet,
        }
    }

    pub fn observe(&mut self, event: Event, format: &dyn Fn(&archer_core::Arch) -> String) {
        let (trial, new_best, sim_seconds, trials) = match event {
            Event::TrialFinished {
                trial,
                new_best,
                sim_seconds,
                trials,
            } => (trial, new_best, sim_seconds, trials),
            Event::OneShotEpoch {
                epoch,
                of,
                genotype,
                train_loss,
                table_acc,
                seconds,
            } => {
                self.bar.set_length(u64::from(of));
                self.bar.set_position(u64::from(epoch));
                self.bar.set_message(format!("supernet epoch {epoch}/{of}"));
                if !self.quiet {
                    let table = table_acc.map_or(String::new(), |a| format!(" | table {a:.2}"));
                    self.bar.println(format!(
                        "  supernet epoch {epoch:>3}/{of} | {seconds:>6.1} s | train loss {train_loss:.3}{table}  {}",
                        genotype.unwrap_or("")
                    ));
                }
                return;
            }
        };
        match self.unit {
            Unit::Trials => self
                .bar
                .set_position(trials.min(self.bar.length().unwrap_or(trials))),
            Unit::SimSeconds => self
                .bar
                .set_position((sim_seconds as u64).min(self.bar.length().unwrap_or(0))),
            Unit::WallSeconds => self.bar.tick(),
        }
        if self.quiet {
            return;
        }
        if trial.state == TrialState::Failed {
            self.bar.println(format!(
                "  trial {:>4} FAILED: {}",
                trial.id,
                trial.error.as_deref().unwrap_or("")
            ));
        } else if new_best {
            let value = trial.metrics.get(&self.objective).unwrap_or(f64::NAN);
            self.bar.set_message(format!(
                "best {} {value:.2} (trial {})",
                self.objective, trial.id
            ));
            self.bar.println(format!(
                "  trial {:>4} | {:>9.0} sim s | new best {} {value:.2}  {}",
                trial.id,
                sim_seconds,
                self.objective,
                format(&trial.arch)
            ));
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
