//! Progress on a terminal: compressed bytes read, rate and ETA. Hidden when stderr is not a
//! terminal, so logs and CI output stay clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct Progress {
    bar: ProgressBar,
    consumed: Arc<AtomicU64>,
}

impl Progress {
    pub fn new(label: &str, total: u64, consumed: Arc<AtomicU64>, enabled: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(total),
            if enabled {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}")
                .expect("static template"),
        );
        bar.set_prefix(label.to_string());
        Progress { bar, consumed }
    }

    pub fn tick(&self, pages: u64) {
        self.bar.set_position(self.consumed.load(Ordering::Relaxed));
        self.bar.set_message(format!("{pages} pages"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
