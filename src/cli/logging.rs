//! Diagnostics of the long-running subcommands: `tracing` events as text or
//! JSON lines on stderr, filtered by `DISTORCH_LOG` (else `RUST_LOG`, else
//! `info`), and spans exported over OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use clap::ValueEnum;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The OTLP endpoint (`http://collector:4318`); spans go to `/v1/traces`.
const OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line: timestamp, level, message, fields, and the
    /// current span's fields (`instance_id`, `step`, `trace_id`, …).
    Json,
}

#[derive(Clone, Copy, Debug, clap::Args)]
pub struct LogArguments {
    /// How diagnostics are written to stderr.
    #[arg(
        long,
        value_enum,
        env = "DISTORCH_LOG_FORMAT",
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
}

/// Flushes and stops the span exporter when dropped (if one runs).
#[derive(Debug)]
pub struct Tracing {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Tracing {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the subscriber of a long-running process named `service` (the
/// OTLP `service.name` unless `OTEL_SERVICE_NAME` says otherwise). Call it
/// inside the Tokio runtime: the span exporter runs on it.
pub fn init(arguments: LogArguments, service: &'static str) -> anyhow::Result<Tracing> {
    let provider = match std::env::var(OTLP_ENDPOINT) {
        Ok(endpoint) if !endpoint.trim().is_empty() => Some(tracer_provider(service)?),
        _ => None,
    };
    let otel = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("distorch")));
    let registry = tracing_subscriber::registry().with(filter()).with(otel);
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match arguments.log_format {
        LogFormat::Text => registry
            .with(
                stderr
                    .with_target(false)
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                stderr
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
    }
    .context("installing the log subscriber")?;
    Ok(Tracing { provider })
}

/// For `distorch run`: its own display stays as it is; a task command's
/// stderr lines show as they are, warnings and errors as `warning: …`.
pub fn init_for_run() {
    let filter = EnvFilter::try_from_env("DISTORCH_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,distorch::task_output=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(Plain)
        .try_init();
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("DISTORCH_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

fn tracer_provider(service: &'static str) -> anyhow::Result<SdkTracerProvider> {
    // Endpoint, headers and timeout come from the standard OTEL_EXPORTER_OTLP_*
    // variables; the batch delay and sizes from OTEL_BSP_*.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .context("building the OTLP span exporter (OTEL_EXPORTER_OTLP_ENDPOINT)")?;
    let service_name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| service.to_owned());
    Ok(SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter, Tokio).build())
        .with_resource(Resource::builder().with_service_name(service_name).build())
        .build())
}

/// The message and fields only; warnings and errors say so.
struct Plain;

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let level = *event.metadata().level();
        if level <= tracing::Level::WARN {
            write!(writer, "{}: ", level.as_str().to_lowercase())?;
        }
        context.format_fields(writer.by_ref(), event)?;
        if level <= tracing::Level::WARN
            && let Some(span) = context.lookup_current()
            && let Some(fields) = span.extensions().get::<FormattedFields<N>>()
            && !fields.is_empty()
        {
            write!(writer, " ({fields})")?;
        }
        writeln!(writer)
    }
}
