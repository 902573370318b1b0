//! The text exposition format (0.0.4), written straight from our own
//! collectors. Faster than `Registry::gather` + `TextEncoder` on a node
//! with thousands of series: no consistency checks and no sorting of the
//! series (every collector is ours and built from constants), the labels of
//! a histogram series written once for all its buckets, the bucket bounds
//! formatted once per family, and numbers written without allocating.

use std::fmt::Write as _;

use prometheus::core::Collector;
use prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType};

/// Appends every family of `collectors`, in the given order, to `out`.
pub(super) fn write_families(collectors: &[&dyn Collector], out: &mut String) {
    for collector in collectors {
        for family in collector.collect() {
            write_family(&family, out);
        }
    }
}

fn write_family(family: &MetricFamily, out: &mut String) {
    let metrics = family.get_metric();
    if metrics.is_empty() {
        return;
    }
    // We register counters, gauges and histograms only.
    let (kind, write): (&str, fn(&str, &Metric, &mut Series)) = match family.get_field_type() {
        MetricType::COUNTER => ("counter", write_counter),
        MetricType::GAUGE => ("gauge", write_gauge),
        MetricType::HISTOGRAM => ("histogram", write_histogram),
        MetricType::SUMMARY | MetricType::UNTYPED => return,
    };
    let name = family.name();
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    escape_into(family.help(), false, out);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
    let mut series = Series {
        out,
        labels: String::new(),
        bounds: Vec::new(),
    };
    if family.get_field_type() == MetricType::HISTOGRAM {
        series.bounds = metrics[0]
            .get_histogram()
            .get_bucket()
            .iter()
            .map(|bucket| {
                let mut bound = String::new();
                number(bucket.upper_bound(), &mut bound);
                bound
            })
            .collect();
    }
    for metric in metrics {
        series.set_labels(metric.get_label());
        write(name, metric, &mut series);
    }
}

/// The output and what every line of one series shares.
struct Series<'a> {
    out: &'a mut String,
    /// `{a="x",b="y"` without the closing brace; empty without labels.
    labels: String,
    /// A histogram family's bucket bounds, as text.
    bounds: Vec<String>,
}

impl Series<'_> {
    fn set_labels(&mut self, pairs: &[LabelPair]) {
        self.labels.clear();
        for (index, pair) in pairs.iter().enumerate() {
            self.labels.push(if index == 0 { '{' } else { ',' });
            self.labels.push_str(pair.name());
            self.labels.push_str("=\"");
            escape_into(pair.value(), true, &mut self.labels);
            self.labels.push('"');
        }
    }

    /// `name+suffix{labels[,extra]} value`.
    fn line(&mut self, name: &str, suffix: &str, extra: Option<(&str, &str)>, value: Value) {
        self.out.push_str(name);
        self.out.push_str(suffix);
        self.out.push_str(&self.labels);
        match (self.labels.is_empty(), extra) {
            (true, None) => {}
            (false, None) => self.out.push('}'),
            (empty, Some((label, text))) => {
                self.out.push(if empty { '{' } else { ',' });
                self.out.push_str(label);
                self.out.push_str("=\"");
                self.out.push_str(text);
                self.out.push_str("\"}");
            }
        }
        self.out.push(' ');
        match value {
            Value::Count(count) => {
                let _ = write!(self.out, "{count}");
            }
            Value::Float(value) => number(value, self.out),
        }
        self.out.push('\n');
    }
}

#[derive(Clone, Copy)]
enum Value {
    Count(u64),
    Float(f64),
}

fn write_counter(name: &str, metric: &Metric, series: &mut Series) {
    series.line(
        name,
        "",
        None,
        Value::Float(metric.get_counter().get_value()),
    );
}

fn write_gauge(name: &str, metric: &Metric, series: &mut Series) {
    series.line(name, "", None, Value::Float(metric.get_gauge().get_value()));
}

fn write_histogram(name: &str, metric: &Metric, series: &mut Series) {
    let histogram = metric.get_histogram();
    let bounds = std::mem::take(&mut series.bounds);
    for (bucket, bound) in histogram.get_bucket().iter().zip(&bounds) {
        series.line(
            name,
            "_bucket",
            Some(("le", bound)),
            Value::Count(bucket.cumulative_count()),
        );
    }
    series.bounds = bounds;
    let count = histogram.get_sample_count();
    series.line(name, "_bucket", Some(("le", "+Inf")), Value::Count(count));
    series.line(name, "_sum", None, Value::Float(histogram.get_sample_sum()));
    series.line(name, "_count", None, Value::Count(count));
}

/// A sample value as Prometheus writes it: `+Inf`, `-Inf`, `NaN`, else the
/// shortest text that reads back as the same number (`1`, `0.25`).
fn number(value: f64, out: &mut String) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Escapes `\` and newlines (and `"` in label values), as the format asks.
fn escape_into(text: &str, quote: bool, out: &mut String) {
    if !text
        .bytes()
        .any(|byte| byte == b'\\' || byte == b'\n' || (quote && byte == b'"'))
    {
        out.push_str(text);
        return;
    }
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{
        Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
        TextEncoder,
    };

    /// The lines of a rendering, sorted: the order of series is free.
    fn sorted(text: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        lines
    }

    #[test]
    fn writes_what_the_prometheus_text_encoder_writes() {
        let counter = IntCounterVec::new(
            Opts::new("test_total", "Counts \\ things\nacross lines."),
            &["kind", "name"],
        )
        .unwrap();
        counter.with_label_values(&["a", "plain"]).inc_by(3);
        counter
            .with_label_values(&["b", "quote \" back\\slash\nnewline"])
            .inc();
        let gauge = GaugeVec::new(Opts::new("test_level", "A level."), &["kind"]).unwrap();
        gauge.with_label_values(&["up"]).set(0.25);
        gauge.with_label_values(&["inf"]).set(f64::INFINITY);
        gauge.with_label_values(&["big"]).set(1e21);
        let histogram = HistogramVec::new(
            HistogramOpts::new("test_seconds", "Durations.").buckets(vec![0.005, 0.5, 60.0]),
            &["step"],
        )
        .unwrap();
        for value in [0.001, 0.2, 0.7, 100.0] {
            histogram.with_label_values(&["charge"]).observe(value);
        }
        let bare = IntCounter::new("test_bare_total", "No labels.").unwrap();
        bare.inc();
        let empty = IntCounterVec::new(Opts::new("test_empty_total", "None yet."), &["x"]).unwrap();
        let registry = Registry::new();
        registry.register(Box::new(counter.clone())).unwrap();
        registry.register(Box::new(gauge.clone())).unwrap();
        registry.register(Box::new(histogram.clone())).unwrap();
        registry.register(Box::new(bare.clone())).unwrap();
        registry.register(Box::new(empty.clone())).unwrap();
        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(counter),
            Box::new(gauge),
            Box::new(histogram),
            Box::new(bare),
            Box::new(empty),
        ];
        let mut expected = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut expected)
            .unwrap();
        // The crate writes infinity as `inf`; the format (and Prometheus's
        // parser) spells it `+Inf`.
        let expected = String::from_utf8(expected)
            .unwrap()
            .replace(" inf\n", " +Inf\n");

        let mut written = String::new();
        let borrowed: Vec<&dyn Collector> = collectors.iter().map(|c| &**c).collect();
        write_families(&borrowed, &mut written);

        assert_eq!(
            sorted(&written),
            sorted(&expected),
            "{written}\n---\n{expected}"
        );
        assert!(written.contains("test_seconds_bucket{step=\"charge\",le=\"0.5\"} 2\n"));
    }
}
