//! Prometheus export of every measurement recorded through the `metrics` facade (the engine's queue wait,
//! step time, batch size, tokens, first-token time and deadline misses): one process-wide recorder, rendered
//! at `GET /metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in milliseconds (the unit of every `*_ms` histogram).
const MS_BUCKETS: [f64; 16] =
    [0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 32.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0];
/// Batch-size buckets.
const BATCH_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// The process's Prometheus recorder, installed on first use. When another recorder is already installed
/// (a test harness), a private one is returned: it renders, but sees nothing.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = || {
            PrometheusBuilder::new()
                .set_buckets(&MS_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("batch_size".into()), &BATCH_BUCKETS))
                .expect("bucket lists are not empty")
        };
        match builder().install_recorder() {
            Ok(handle) => handle,
            Err(e) => {
                tracing::warn!(error = %e, "a metrics recorder is already installed; /metrics will be empty");
                builder().build_recorder().handle()
            }
        }
    })
}

/// `GET /metrics`: the Prometheus text format.
pub async fn render() -> ([(axum::http::header::HeaderName, &'static str); 1], String) {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus().render())
}

#[cfg(test)]
mod tests {
    #[test]
    fn engine_histograms_render_with_millisecond_buckets() {
        let handle = super::prometheus();
        metrics::histogram!("parley_engine_step_ms", "executor" => "llm", "model" => "test").record(12.0);
        metrics::histogram!("parley_engine_batch_size", "executor" => "llm", "model" => "test").record(3.0);
        let text = handle.render();
        assert!(text.contains("parley_engine_step_ms_bucket{executor=\"llm\",model=\"test\",le=\"20\"} 1"), "{text}");
        assert!(text.contains("parley_engine_batch_size_bucket{executor=\"llm\",model=\"test\",le=\"4\"} 1"), "{text}");
    }
}
