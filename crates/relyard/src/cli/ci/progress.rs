//! One progress line per task on a terminal (indicatif, on stderr); plain lines on stdout when
//! stderr is not a terminal, so logs and pipes read well.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::follow::State;

pub struct Progress {
    bars: Option<Bars>,
    names: Vec<String>,
    started: Instant,
}

struct Bars {
    multi: MultiProgress,
    bars: Vec<ProgressBar>,
    /// Without a spinner: a task's line once it has ended, behind its mark.
    finished: ProgressStyle,
}

impl Progress {
    pub fn new(names: Vec<String>, started: Instant) -> Progress {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
            let style = |template: String| {
                ProgressStyle::with_template(&template)
                    .unwrap_or_else(|_| ProgressStyle::default_spinner())
            };
            let running = style(format!(
                "{{spinner}} {{prefix:{width}}}  {{msg}} {{elapsed:.dim}}"
            ));
            let finished = style(format!("{{prefix:{}}}  {{msg}}", width + 2));
            let bars = names
                .iter()
                .map(|n| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(running.clone());
                    bar.set_prefix(n.clone());
                    bar.set_message("unscheduled");
                    bar
                })
                .collect();
            Bars {
                multi,
                bars,
                finished,
            }
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
            Some(b) => {
                let Some(bar) = b.bars.get(i) else { return };
                match state {
                    State::Running => {
                        bar.reset_elapsed();
                        bar.enable_steady_tick(Duration::from_millis(120));
                        bar.set_message(what);
                    }
                    s if s.is_final() => {
                        let mark = if s == State::Completed { "✔" } else { "✘" };
                        let took = bar.elapsed().as_secs_f64();
                        bar.set_style(b.finished.clone());
                        bar.set_prefix(format!("{mark} {}", self.names[i]));
                        if matches!(s, State::Blocked) {
                            bar.finish_with_message(what);
                        } else {
                            bar.finish_with_message(format!("{what} after {took:.1}s"));
                        }
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
            Some(b) => b.multi.suspend(write),
            None => {
                let _ = std::io::stdout().flush();
                write()
            }
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bars {
            for bar in b.bars.iter().filter(|b| !b.is_finished()) {
                bar.abandon();
            }
        }
    }
}
