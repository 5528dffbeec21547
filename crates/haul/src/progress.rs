//! Progress bars for `haul export`: drawn on stderr, and only when stderr is
//! a terminal, so scripts and logs get plain output.

use haul_client::{DownloadProgress, Export, Status};
use indicatif::{
    HumanBytes, HumanCount, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle,
};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

fn bar() -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let pb = ProgressBar::with_draw_target(None, target);
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Rows exported so far against `rows_estimate`, bytes written, and the
/// rate and ETA in rows (measured here between polls, since the worker's
/// progress arrives in steps).
pub struct ExportBar {
    pb: ProgressBar,
    estimated: bool,
    /// When this client first saw the export running, and its rows then.
    first_running: Option<(Instant, u64)>,
}

impl Default for ExportBar {
    fn default() -> Self {
        let pb = bar();
        pb.set_style(spinner_style());
        Self {
            pb,
            estimated: false,
            first_running: None,
        }
    }
}

impl ExportBar {
    pub fn update(&mut self, export: &Export) {
        let p = &export.progress;
        if let (Some(estimate), false) = (p.rows_estimate, self.estimated) {
            self.pb.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg:9} [{bar:30}] {human_pos}/~{human_len} rows, {prefix}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            self.pb.set_length(estimate.max(1));
            self.estimated = true;
        }
        if self.estimated {
            // The estimate comes from planner statistics and may be low.
            let len = self.pb.length().unwrap_or(0).max(p.rows);
            self.pb.set_length(len);
        }
        self.pb.set_position(p.rows);
        let prefix = self.rate_and_eta(export);
        self.pb.set_prefix(prefix);
        self.pb.set_message(export.status.to_string());
    }

    /// "12.3 MiB, 45,000 rows/s, ETA 2m" (rate and ETA once measurable).
    fn rate_and_eta(&mut self, export: &Export) -> String {
        let p = &export.progress;
        let now = Instant::now();
        if export.status == Status::Running && self.first_running.is_none() {
            self.first_running = Some((now, p.rows));
        }
        let mut text = HumanBytes(p.bytes).to_string();
        let rate = self.first_running.and_then(|(since, rows)| {
            let secs = now.duration_since(since).as_secs_f64();
            (secs >= 1.0 && p.rows > rows).then(|| (p.rows - rows) as f64 / secs)
        });
        if let Some(rate) = rate {
            text += &format!(", {} rows/s", HumanCount(rate as u64));
            if let Some(left) = p.rows_estimate.and_then(|e| e.checked_sub(p.rows)) {
                let eta = Duration::from_secs_f64(left as f64 / rate);
                text += &format!(", ETA {}", HumanDuration(eta));
            }
        }
        text
    }

    pub fn finish(&self, export: &Export) {
        self.pb.finish_and_clear();
        if std::io::stderr().is_terminal() || export.status != Status::Succeeded {
            eprintln!("{}", summary(export));
        }
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg:9} {human_pos} rows, {prefix}")
        .expect("valid template")
}

/// One line saying how an export ended.
pub fn summary(export: &Export) -> String {
    match (&export.result, &export.error) {
        (Some(r), _) => format!(
            "export {} succeeded: {} rows, {} ({})",
            export.id,
            r.rows,
            HumanBytes(r.bytes),
            r.filename
        ),
        (_, Some(e)) => format!(
            "export {} {}: {}: {}",
            export.id, export.status, e.code, e.message
        ),
        _ => format!("export {} {}", export.id, export.status),
    }
}

/// Bytes of the file on disk, counting a resumed partial file.
pub struct DownloadBar {
    pb: ProgressBar,
    started: bool,
}

impl Default for DownloadBar {
    fn default() -> Self {
        let pb = bar();
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        Self { pb, started: false }
    }
}

impl DownloadBar {
    pub fn update(&mut self, p: DownloadProgress) {
        self.pb.set_length(p.total);
        self.pb.set_position(p.done);
        if !self.started {
            // A resumed download starts part-way: the rate counts from here.
            self.pb.reset_eta();
            self.started = true;
        }
    }

    pub fn finish(&self) {
        self.pb.finish_and_clear();
    }
}
