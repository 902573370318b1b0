//! `/metrics` rendering with 200 definitions × 20 steps of label sets: every
//! step has completed and failed outcomes, durations, queue waits and
//! retries, as a busy node would after running each of them.

use criterion::{Criterion, criterion_group, criterion_main};

use application::metrics::Metrics;

const DEFINITIONS: usize = 200;
const STEPS: usize = 20;

fn busy_metrics() -> Metrics {
    let metrics = Metrics::new();
    for definition in 0..DEFINITIONS {
        let definition = format!("definition-{definition:03}");
        metrics
            .workflows_started
            .with_label_values(&[definition.as_str()])
            .inc();
        for status in ["completed", "compensated"] {
            let labels = [definition.as_str(), status];
            metrics.workflows_finished.with_label_values(&labels).inc();
            metrics
                .workflow_duration
                .with_label_values(&labels)
                .observe(1.5);
        }
        for step in 0..STEPS {
            let step = format!("step-{step:02}");
            for outcome in ["completed", "failed"] {
                let labels = [definition.as_str(), step.as_str(), outcome];
                metrics.step_outcomes.with_label_values(&labels).inc();
            }
            let labels = [definition.as_str(), step.as_str()];
            for took in [0.2, 3.0] {
                metrics
                    .step_duration
                    .with_label_values(&labels)
                    .observe(took);
            }
            metrics
                .step_queue_wait
                .with_label_values(&labels)
                .observe(0.01);
            metrics.step_retries.with_label_values(&labels).inc();
        }
    }
    metrics
}

fn render(c: &mut Criterion) {
    let metrics = busy_metrics();
    let size = metrics.render().len();
    c.bench_function(
        &format!(
            "render /metrics, {DEFINITIONS} definitions x {STEPS} steps ({} KB)",
            size / 1024
        ),
        |b| b.iter(|| metrics.render()),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = render
}
criterion_main!(benches);
