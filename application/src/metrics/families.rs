//! The metric types the registry is made of: families of series keyed by
//! their label values, and gauges that appear only once a process has
//! something to report in them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;

pub type Counter = prometheus_client::metrics::counter::Counter;
pub type IntGauge = Gauge<i64, AtomicI64>;
pub type FloatGauge = Gauge<f64, AtomicU64>;

/// The label pairs of one series.
type LabelSet<const N: usize> = [(&'static str, String); N];

/// A family of series with `N` labels, named once, addressed by values.
#[derive(Debug)]
pub struct Labelled<const N: usize, M, C = fn() -> M> {
    names: [&'static str; N],
    family: Family<LabelSet<N>, M, C>,
}

impl<const N: usize, M, C: Clone> Clone for Labelled<N, M, C> {
    fn clone(&self) -> Self {
        Self {
            names: self.names,
            family: self.family.clone(),
        }
    }
}

impl<const N: usize, M: Default> Labelled<N, M> {
    pub fn new(names: [&'static str; N]) -> Self {
        Self::with(names, M::default as fn() -> M)
    }
}

impl<const N: usize, M, C: MetricConstructor<M>> Labelled<N, M, C> {
    pub fn with(names: [&'static str; N], constructor: C) -> Self {
        Self {
            names,
            family: Family::new_with_constructor(constructor),
        }
    }

    /// The series of these label values, created (at zero) if new.
    pub fn with_label_values(&self, values: &[&str; N]) -> M
    where
        M: Clone,
    {
        let labels = std::array::from_fn(|index| (self.names[index], values[index].to_owned()));
        self.family.get_or_create_owned(&labels)
    }

    /// Drops every series (a gauge sampled afresh at each scrape).
    pub fn reset(&self) {
        self.family.clear();
    }
}

impl<const N: usize, M, C> EncodeMetric for Labelled<N, M, C>
where
    M: EncodeMetric + prometheus_client::metrics::TypedMetric,
    C: MetricConstructor<M>,
{
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.family.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.family.metric_type()
    }

    fn is_empty(&self) -> bool {
        EncodeMetric::is_empty(&self.family)
    }
}

/// A gauge without labels that is exported only once set: a worker has no
/// database to say is up, and must not say it is down.
#[derive(Debug, Default)]
pub struct Reported<G> {
    gauge: G,
    reported: Arc<AtomicBool>,
}

impl<G: Clone> Clone for Reported<G> {
    fn clone(&self) -> Self {
        Self {
            gauge: self.gauge.clone(),
            reported: self.reported.clone(),
        }
    }
}

impl Reported<IntGauge> {
    pub fn set(&self, value: i64) {
        self.gauge.set(value);
        self.reported.store(true, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.gauge.get()
    }
}

impl Reported<FloatGauge> {
    pub fn set(&self, value: f64) {
        self.gauge.set(value);
        self.reported.store(true, Ordering::Relaxed);
    }
}

impl<G: EncodeMetric> EncodeMetric for Reported<G> {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.gauge.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }

    fn is_empty(&self) -> bool {
        !self.reported.load(Ordering::Relaxed)
    }
}
