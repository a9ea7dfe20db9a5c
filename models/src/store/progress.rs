//! Progress reporting for long downloads, extractions and hashes: a bar per file on a terminal, a line per
//! file in logs.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// How the store reports what it is doing.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    bars: bool,
    lines: bool,
}

impl Progress {
    /// Bars when stderr is a terminal, one line per step otherwise.
    pub fn auto() -> Self {
        let tty = std::io::stderr().is_terminal();
        Self { bars: tty, lines: true }
    }

    /// Nothing at all (library use, tests).
    pub fn silent() -> Self {
        Self { bars: false, lines: false }
    }

    /// Prints one line of status (to stderr) unless silent.
    pub fn say(&self, message: impl AsRef<str>) {
        if self.lines {
            eprintln!("{}", message.as_ref());
        }
    }

    /// Whether child processes (pip) should draw their own progress on the terminal.
    pub fn interactive(&self) -> bool {
        self.bars
    }

    /// A byte-counting bar for one file; hidden unless on a terminal.
    pub fn bar(&self, label: &str, total: u64) -> ProgressBar {
        if !self.bars {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{msg:32!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        bar
    }
}
