//! One progress line per task on a terminal (indicatif, on stderr); plain lines on stdout when
//! stderr is not a terminal, so logs and pipes read well.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::follow::State;

pub struct Progress {
    bars: Option<(MultiProgress, Vec<ProgressBar>)>,
    names: Vec<String>,
    started: Instant,
}

impl Progress {
    pub fn new(names: Vec<String>, started: Instant) -> Progress {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
            let style = ProgressStyle::with_template(&format!(
                "{{spinner}} {{prefix:{width}}}  {{msg}} {{elapsed:.dim}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bars = names
                .iter()
                .map(|n| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(style.clone());
                    bar.set_prefix(n.clone());
                    bar.set_message("unscheduled");
                    bar
                })
                .collect();
            (multi, bars)
        });
        Progress {
            bars,
            names,
            started,
        }
    }

    /// Shows task `i`'s new state.
    pub fn set(&self, i: usize, state: State, reason: Option<&str>) {
        let what = match reason {
            Some(r) if state.is_final() && r != state.as_str() && state != State::Completed => {
                format!("{} ({r})", state.as_str())
            }
            _ => state.as_str().to_string(),
        };
        match &self.bars {
            Some((_, bars)) => {
                let Some(bar) = bars.get(i) else { return };
                match state {
                    State::Running => {
                        bar.reset_elapsed();
                        bar.enable_steady_tick(Duration::from_millis(120));
                        bar.set_message(what);
                    }
                    s if s.is_final() => {
                        let mark = if s == State::Completed { "✔" } else { "✘" };
                        bar.set_prefix(format!("{mark} {}", self.names[i]));
                        bar.finish_with_message(what);
                    }
                    _ => bar.set_message(what),
                }
            }
            None if matches!(state, State::Pending | State::Unscheduled) => {}
            None => {
                let name = self.names.get(i).map_or("?", String::as_str);
                let secs = self.started.elapsed().as_secs_f64();
                println!("[{secs:7.2}s] {name}: {what}");
            }
        }
    }

    /// Writes to stderr without tearing the progress lines.
    pub fn to_stderr(&self, bytes: &[u8]) {
        let write = || {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(bytes);
            let _ = err.flush();
        };
        match &self.bars {
            Some((multi, _)) => multi.suspend(write),
            None => {
                let _ = std::io::stdout().flush();
                write()
            }
        }
    }

    pub fn finish(&self) {
        if let Some((_, bars)) = &self.bars {
            for bar in bars.iter().filter(|b| !b.is_finished()) {
                bar.abandon();
            }
        }
    }
}
