//! The report's plots, drawn with `plotters` to SVG strings: latency CDFs, latency against concurrency, a
//! per-turn stage waterfall, and voice-to-voice latency over a soak.

use plotters::prelude::*;

use super::metrics::TurnResult;

const COLORS: [RGBColor; 7] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(127, 127, 127),
];

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn svg(
    width: u32,
    height: u32,
    draw: impl FnOnce(DrawingArea<SVGBackend, plotters::coord::Shift>) -> DrawResult,
) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw(root)
    };
    match result {
        Ok(()) => out,
        Err(e) => format!("<p>plot failed: {e}</p>"),
    }
}

fn upper(values: impl Iterator<Item = f64>) -> f64 {
    (values.fold(0.0, f64::max) * 1.1).max(1.0)
}

/// Cumulative distributions of named series (ms).
pub fn cdfs(title: &str, series: &[(String, Vec<f64>)]) -> String {
    svg(760, 420, |root| {
        root.fill(&WHITE)?;
        let xmax = upper(series.iter().flat_map(|(_, v)| v.iter().copied()));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..xmax, 0f64..1f64)?;
        chart.configure_mesh().x_desc("ms").y_desc("fraction of turns").draw()?;
        for (i, (name, values)) in series.iter().enumerate().filter(|(_, (_, v))| !v.is_empty()) {
            let mut v = values.clone();
            v.sort_by(f64::total_cmp);
            let n = v.len() as f64;
            let mut points = vec![(0.0, 0.0)];
            for (k, x) in v.iter().enumerate() {
                points.push((*x, k as f64 / n));
                points.push((*x, (k + 1) as f64 / n));
            }
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(format!("{name} (n={})", v.len()))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })
}

/// Voice-to-voice P50 and P90 against the number of concurrent sessions, with the SLO line.
pub fn latency_vs_concurrency(levels: &[(usize, f64, f64)], slo_ms: f64) -> String {
    svg(760, 420, |root| {
        root.fill(&WHITE)?;
        let xmax = levels.iter().map(|l| l.0).max().unwrap_or(1) as f64 + 1.0;
        let ymax = upper(levels.iter().flat_map(|l| [l.1, l.2]).chain([slo_ms]));
        let mut chart = ChartBuilder::on(&root)
            .caption("Voice to voice against concurrent sessions", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
        chart.configure_mesh().x_desc("concurrent sessions").y_desc("ms").draw()?;
        for (i, (name, pick)) in [("P50", 1usize), ("P90", 2)].into_iter().enumerate() {
            let color = COLORS[i];
            let points: Vec<(f64, f64)> =
                levels.iter().map(|l| (l.0 as f64, if pick == 1 { l.1 } else { l.2 })).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
        }
        let red = COLORS[3];
        chart
            .draw_series(LineSeries::new([(0.0, slo_ms), (xmax, slo_ms)], red.stroke_width(1)))?
            .label(format!("SLO {slo_ms:.0} ms"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], red));
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
        root.present()?;
        Ok(())
    })
}

/// The stages of each turn as stacked bars from the end of the user's speech: the server's end of turn,
/// transcript, first token, first audio, packet sent, then what the client saw beyond (the network and the
/// caller's jitter buffer) up to the first reply audio.
pub fn waterfall(turns: &[TurnResult]) -> String {
    let rows: Vec<(&TurnResult, f64, &super::metrics::ServerStages)> =
        turns.iter().filter_map(|t| Some((t, t.voice_to_voice_ms?, t.server.as_ref()?))).take(40).collect();
    let height = 120 + 22 * rows.len().max(1) as u32;
    svg(900, height, |root| {
        root.fill(&WHITE)?;
        let xmax = upper(rows.iter().map(|r| r.1.max(r.2.audio_sent_ms)));
        let mut chart = ChartBuilder::on(&root)
            .caption("Per-turn stages (from the end of the user's speech)", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(40)
            .build_cartesian_2d(0f64..xmax, 0f64..rows.len().max(1) as f64)?;
        chart.configure_mesh().x_desc("ms").y_desc("turn").disable_y_mesh().draw()?;
        let names = ["end of turn", "transcript", "first token", "first audio", "sent", "network + client"];
        for (k, name) in names.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let bars: Vec<Rectangle<(f64, f64)>> = rows
                .iter()
                .enumerate()
                .map(|(i, (_, v2v, s))| {
                    let marks = [
                        0.0,
                        s.end_of_turn_ms,
                        s.transcript_ms,
                        s.first_token_ms,
                        s.first_audio_ms,
                        s.audio_sent_ms,
                        *v2v,
                    ];
                    let (a, b) = (marks[k], marks[k + 1].max(marks[k]));
                    let y = i as f64;
                    Rectangle::new([(a, y + 0.15), (b, y + 0.85)], color.filled())
                })
                .collect();
            chart
                .draw_series(bars)?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })
}

/// Voice-to-voice latency of each turn against when it happened (a soak's drift).
pub fn over_time(turns: &[TurnResult]) -> String {
    svg(760, 380, |root| {
        root.fill(&WHITE)?;
        let points: Vec<(f64, f64)> = turns.iter().filter_map(|t| Some((t.at_s, t.voice_to_voice_ms?))).collect();
        let xmax = upper(points.iter().map(|p| p.0));
        let ymax = upper(points.iter().map(|p| p.1));
        let mut chart = ChartBuilder::on(&root)
            .caption("Voice to voice over the run", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
        chart.configure_mesh().x_desc("s since start").y_desc("ms").draw()?;
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, COLORS[0].filled())))?;
        root.present()?;
        Ok(())
    })
}
