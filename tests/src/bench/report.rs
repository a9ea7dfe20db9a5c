//! The harness's output: `report.json` (every turn's measurements plus the summaries), `report.html` (the
//! summaries and the plots, self-contained), and a one-screen text summary.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::load::LevelResult;
use super::plots;
use super::summary::{Rate, Summary};

/// Everything one `parley-bench` run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub server: String,
    /// Where the scenarios came from, and how many.
    pub scenarios: String,
    pub scenario_count: usize,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix_s: u64,
    /// The voice-to-voice P90 a level must hold (ramp), ms.
    pub slo_ms: f64,
    /// One entry per concurrency level run.
    pub levels: Vec<LevelResult>,
    /// With `--ramp`: the highest number of sessions whose voice-to-voice P90 held the SLO (0: none did).
    pub ramp_best_sessions: Option<usize>,
    /// With `--duration`: voice-to-voice P90 of the first and the last minute.
    pub drift: Option<Drift>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub first_minute_p90_ms: Option<f64>,
    pub last_minute_p90_ms: Option<f64>,
}

impl Drift {
    pub fn of(level: &LevelResult) -> Self {
        let v2v = |from: f64, to: f64| -> Vec<f64> {
            level.turns.iter().filter(|t| t.at_s >= from && t.at_s < to).filter_map(|t| t.voice_to_voice_ms).collect()
        };
        let end = level.turns.iter().map(|t| t.at_s).fold(0.0, f64::max);
        let p90 = |v: Vec<f64>| super::summary::Stats::of(&v).map(|s| s.p90);
        Self {
            first_minute_p90_ms: p90(v2v(0.0, 60.0)),
            last_minute_p90_ms: p90(v2v((end - 60.0).max(60.0), f64::INFINITY)),
        }
    }
}

impl Report {
    /// Writes `report.json` and `report.html` into `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(self)?)?;
        std::fs::write(dir.join("report.html"), self.html())?;
        Ok(())
    }

    /// The one-screen summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ =
            writeln!(out, "parley-bench: {} — {} scenarios from {}", self.server, self.scenario_count, self.scenarios);
        for level in &self.levels {
            let s = &level.summary;
            let _ = writeln!(
                out,
                "\n{} session(s), {:.0} s: {} turns measured, {} failed{}",
                level.sessions,
                level.wall_s,
                s.turns - s.failed_turns,
                s.failed_turns,
                if level.errors.is_empty() { String::new() } else { format!(" ({} call errors)", level.errors.len()) }
            );
            let _ = writeln!(out, "  {:<24} {:>5} {:>8} {:>8} {:>8}", "latency (ms)", "n", "P50", "P90", "P99");
            for (name, st) in &s.latency {
                let _ = writeln!(
                    out,
                    "  {:<24} {:>5} {:>8.0} {:>8.0} {:>8.0}",
                    name.trim_end_matches("_ms"),
                    st.n,
                    st.p50,
                    st.p90,
                    st.p99
                );
            }
            let _ = writeln!(out, "  false barge-in      {}", rate(s.false_barge_in));
            let _ = writeln!(out, "  missed interruption {}", rate(s.missed_interruption));
            let _ = writeln!(
                out,
                "  false cut-off       {} (in pauses {})",
                rate(s.false_cut_off),
                rate(s.false_cut_off_in_pauses)
            );
            let _ = writeln!(
                out,
                "  SID-Bench APT {}  FIR {}  IRL {}   user WER {}",
                opt(s.apt_s, " s"),
                opt(s.fir, ""),
                opt(s.irl_s, " s"),
                opt(s.wer, "")
            );
            for e in level.errors.iter().take(5) {
                let _ = writeln!(out, "  error: {e}");
            }
        }
        if let Some(best) = self.ramp_best_sessions {
            let _ = writeln!(
                out,
                "\nramp: highest concurrency holding voice-to-voice P90 ≤ {:.0} ms: {best} session(s)",
                self.slo_ms
            );
        }
        if let Some(d) = &self.drift {
            let _ = writeln!(
                out,
                "\nsoak drift: voice-to-voice P90 first minute {}, last minute {}",
                opt(d.first_minute_p90_ms, " ms"),
                opt(d.last_minute_p90_ms, " ms")
            );
        }
        out
    }

    fn html(&self) -> String {
        let mut h = String::new();
        let _ = write!(
            h,
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>parley-bench report</title><style>\
             body{{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}}\
             table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
             th:first-child,td:first-child{{text-align:left}}pre{{background:#f6f6f6;padding:1em}}</style></head><body>\
             <h1>parley-bench report</h1><p>Server {} · {} scenarios from <code>{}</code></p><pre>{}</pre>",
            esc(&self.server),
            self.scenario_count,
            esc(&self.scenarios),
            esc(&self.text())
        );
        for level in &self.levels {
            let _ = write!(h, "<h2>{} session(s)</h2>{}", level.sessions, summary_table(&level.summary));
            let series: Vec<(String, Vec<f64>)> = [
                ("voice to voice", "voice_to_voice"),
                ("end-of-turn decision", "end_of_turn"),
                ("barge-in stop", "barge_in_stop"),
            ]
            .iter()
            .map(|(label, key)| {
                let values = level
                    .turns
                    .iter()
                    .filter_map(|t| match *key {
                        "voice_to_voice" => t.voice_to_voice_ms,
                        "end_of_turn" => t.end_of_turn_ms,
                        _ => t.overlap.as_ref().filter(|o| o.kind == "interruption").and_then(|o| o.stop_ms),
                    })
                    .collect();
                (label.to_string(), values)
            })
            .chain(std::iter::once(("network RTT".to_string(), level.rtt_ms.clone())))
            .collect();
            h.push_str(&plots::cdfs(&format!("Latency CDFs, {} session(s)", level.sessions), &series));
            h.push_str(&plots::waterfall(&level.turns));
            if self.drift.is_some() {
                h.push_str(&plots::over_time(&level.turns));
            }
        }
        let points: Vec<(usize, f64, f64)> = self
            .levels
            .iter()
            .filter_map(|l| l.summary.latency.get("voice_to_voice_ms").map(|s| (l.sessions, s.p50, s.p90)))
            .collect();
        if !points.is_empty() {
            h.push_str("<h2>Concurrency</h2>");
            h.push_str(&plots::latency_vs_concurrency(&points, self.slo_ms));
        }
        h.push_str("</body></html>\n");
        h
    }
}

fn summary_table(s: &Summary) -> String {
    let mut t =
        String::from("<table><tr><th>latency (ms)</th><th>n</th><th>P50</th><th>P90</th><th>P99</th><th>max</th></tr>");
    for (name, st) in &s.latency {
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}</td></tr>",
            esc(name),
            st.n,
            st.p50,
            st.p90,
            st.p99,
            st.max
        );
    }
    t.push_str("</table>");
    t
}

fn rate(r: Rate) -> String {
    match r.value() {
        Some(v) => format!("{}/{} ({:.0}%)", r.count, r.of, v * 100.0),
        None => "–".into(),
    }
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.3}{unit}"))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
