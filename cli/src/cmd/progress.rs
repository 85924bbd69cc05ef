//! Progress on long work (`build`, `deploy`, `destroy`, remote `invoke`): a live bar or
//! spinner on stderr when stderr is a terminal and the output is text, saying what is being
//! waited for; plain lines, one per finished step, otherwise (CI logs, pipes, `--output
//! json`). Never anything on stdout.

use super::out::note;
use super::{Global, Output};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

/// How the progress of one command is shown.
pub struct Progress {
    /// The live bar; `None` when lines are printed instead.
    bar: Option<ProgressBar>,
    /// What each step in flight is doing, in the order they started: the bar's message.
    jobs: Mutex<Vec<(String, String)>>,
    /// How many steps a bar counts (0 for a spinner).
    total: usize,
}

impl Progress {
    /// A bar of `total` steps.
    pub fn bar(global: &Global, total: usize) -> Progress {
        Progress::new(global, total, |bar| {
            bar.set_length(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed:>3} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
        })
    }

    /// A spinner for work whose end cannot be counted (an execution running).
    pub fn spinner(global: &Global, message: impl Into<String>) -> Progress {
        let message = message.into();
        Progress::new(global, 0, |bar| {
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>3} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(message);
        })
    }

    fn new(global: &Global, total: usize, style: impl FnOnce(&ProgressBar)) -> Progress {
        let live = global.output == Output::Text && std::io::stderr().is_terminal();
        let bar = live.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            style(&bar);
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress {
            bar,
            jobs: Mutex::new(Vec::new()),
            total,
        }
    }

    /// How many steps the bar counts.
    pub fn total(&self) -> usize {
        self.total
    }

    /// `job` is now `doing` something (`waiting for shop-Reserve to become Active`): shown in
    /// the bar's message; plain output prints only finished steps.
    pub fn working(&self, job: &str, doing: impl Into<String>) {
        let Some(bar) = &self.bar else {
            return;
        };
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let doing = doing.into();
        match jobs.iter_mut().find(|(name, _)| name == job) {
            Some(entry) => entry.1 = doing,
            None => jobs.push((job.to_string(), doing)),
        }
        bar.set_message(message(&jobs));
    }

    /// `job` finished, reported as `line`: above the bar, or as a plain line.
    pub fn finished(&self, job: &str, line: impl std::fmt::Display) {
        match &self.bar {
            Some(bar) => {
                let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
                jobs.retain(|(name, _)| name != job);
                bar.println(line.to_string());
                bar.inc(1);
                bar.set_message(message(&jobs));
            }
            None => note!("{line}"),
        }
    }

    /// Removes the bar (the lines printed above it stay).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The steps in flight: the oldest one's doing, and how many more there are.
fn message(jobs: &[(String, String)]) -> String {
    match jobs {
        [] => String::new(),
        [(_, only)] => only.clone(),
        [(_, first), rest @ ..] => format!("{first} (and {} more)", rest.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_oldest_step_in_flight() {
        let jobs = |n: usize| -> Vec<(String, String)> {
            (0..n)
                .map(|i| (format!("j{i}"), format!("doing {i}")))
                .collect()
        };
        assert_eq!(message(&jobs(0)), "");
        assert_eq!(message(&jobs(1)), "doing 0");
        assert_eq!(message(&jobs(3)), "doing 0 (and 2 more)");
    }
}
