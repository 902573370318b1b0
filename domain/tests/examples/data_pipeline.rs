//! `workflows/data-pipeline.yaml`: extract, parallel transforms, a tolerated
//! geocoding failure, publish; the staging snapshot dropped on failure.

use domain::instance::{InstanceStatus, StepStatus};
use domain::testkit::Harness;
use serde_json::json;

use crate::support::{
    compensation_input, fire_next_timer, harness, scheduled_input, status, step_ids, undo_last,
};

const WORKFLOW: &str = "data-pipeline.yaml";

/// Starts the pipeline and extracts the snapshot; the four transforms are scheduled.
fn extracted() -> Harness {
    let mut h = harness(WORKFLOW);
    assert_eq!(
        h.start(json!({"date": "2026-03-14", "region": "emea"})),
        ["WorkflowStarted", "StepScheduled extract_sales#1"]
    );
    assert_eq!(
        scheduled_input(&h, "extract_sales"),
        json!({"date": "2026-03-14", "region": "emea"})
    );
    assert_eq!(
        h.complete(
            "extract_sales",
            json!({"snapshot": "s3://staging/sales/2026-03-14"})
        ),
        [
            "StepCompleted extract_sales#1",
            "StepScheduled clean_orders#1",
            "StepScheduled enrich_customers#1",
            "StepScheduled compute_metrics#1",
            "StepScheduled geocode_addresses#1"
        ]
    );
    h
}

#[test]
fn is_a_valid_workflow() {
    let h = harness(WORKFLOW);
    assert_eq!(h.state.definition.name, "data-pipeline");
    assert_eq!(
        step_ids(&h),
        [
            "extract_sales",
            "clean_orders",
            "enrich_customers",
            "compute_metrics",
            "geocode_addresses",
            "aggregate_report",
            "aggregate_report_without_map",
            "publish_report"
        ]
    );
}

#[test]
fn extracts_every_region_when_none_is_given() {
    let mut h = harness(WORKFLOW);
    h.start(json!({"date": "2026-03-14"}));
    assert_eq!(
        scheduled_input(&h, "extract_sales"),
        json!({"date": "2026-03-14", "region": "all"})
    );
}

#[test]
fn publishes_the_full_report_when_every_transform_succeeds() {
    let mut h = extracted();
    assert_eq!(
        h.fail("enrich_customers", true),
        [
            "StepFailed enrich_customers#1",
            "StepRetryScheduled enrich_customers#2"
        ]
    );
    assert_eq!(
        fire_next_timer(&mut h),
        ["StepScheduled enrich_customers#2"]
    );
    assert_eq!(
        h.complete("clean_orders", json!({"table": "orders_clean"})),
        ["StepCompleted clean_orders#1"]
    );
    assert_eq!(
        h.complete("enrich_customers", json!({"table": "customers_enriched"})),
        ["StepCompleted enrich_customers#2"]
    );
    assert_eq!(
        h.complete("compute_metrics", json!({"table": "metrics_daily"})),
        ["StepCompleted compute_metrics#1"]
    );
    assert_eq!(
        h.complete("geocode_addresses", json!({"table": "delivery_geo"})),
        [
            "StepCompleted geocode_addresses#1",
            "StepScheduled aggregate_report#1",
            "StepSkipped aggregate_report_without_map"
        ]
    );
    assert_eq!(
        scheduled_input(&h, "aggregate_report")["tables"],
        json!([
            "orders_clean",
            "customers_enriched",
            "metrics_daily",
            "delivery_geo"
        ])
    );
    assert_eq!(
        h.complete(
            "aggregate_report",
            json!({"report_id": "rep-14", "rows": 1234})
        ),
        [
            "StepCompleted aggregate_report#1",
            "StepScheduled publish_report#1"
        ]
    );
    // The secret stays a reference for the HTTP executor to resolve.
    assert_eq!(
        scheduled_input(&h, "publish_report"),
        json!({
            "method": "PUT",
            "url": "http://bi-catalogue.internal:8080/reports/daily-sales/2026-03-14",
            "headers": {"Authorization": "Bearer ${ secrets.bi_catalogue_token }"},
            "body": {"with_map": true, "report": {"report_id": "rep-14", "rows": 1234}}
        })
    );
    assert_eq!(
        h.complete(
            "publish_report",
            json!({"status": 200, "body": {"url": "https://bi.internal/r/rep-14"}})
        ),
        ["StepCompleted publish_report#1", "WorkflowCompleted"]
    );
    assert_eq!(h.state.status, InstanceStatus::Completed);
    assert_eq!(
        h.state.output,
        Some(json!({
            "date": "2026-03-14",
            "with_map": true,
            "published": "https://bi.internal/r/rep-14"
        }))
    );
}

#[test]
fn publishes_the_report_without_a_map_when_geocoding_keeps_failing() {
    let mut h = extracted();
    assert_eq!(
        h.fail("geocode_addresses", true),
        [
            "StepFailed geocode_addresses#1",
            "StepRetryScheduled geocode_addresses#2"
        ]
    );
    assert_eq!(
        fire_next_timer(&mut h),
        ["StepScheduled geocode_addresses#2"]
    );
    // Out of attempts, but tolerated: nothing is undone, the others go on.
    assert_eq!(
        h.fail("geocode_addresses", true),
        ["StepFailed geocode_addresses#2"]
    );
    assert_eq!(h.state.status, InstanceStatus::Running);
    h.complete("clean_orders", json!({"table": "orders_clean"}));
    h.complete("enrich_customers", json!({"table": "customers_enriched"}));
    assert_eq!(
        h.complete("compute_metrics", json!({"table": "metrics_daily"})),
        [
            "StepCompleted compute_metrics#1",
            "StepSkipped aggregate_report",
            "StepScheduled aggregate_report_without_map#1"
        ]
    );
    assert_eq!(
        scheduled_input(&h, "aggregate_report_without_map"),
        json!({
            "date": "2026-03-14",
            "tables": ["orders_clean", "customers_enriched", "metrics_daily"],
            "note": "no delivery map for 2026-03-14: geocoding failed"
        })
    );
    assert_eq!(
        h.complete(
            "aggregate_report_without_map",
            json!({"report_id": "rep-14", "rows": 1234})
        ),
        [
            "StepCompleted aggregate_report_without_map#1",
            "StepScheduled publish_report#1"
        ]
    );
    assert_eq!(
        scheduled_input(&h, "publish_report")["body"],
        json!({"with_map": false, "report": {"report_id": "rep-14", "rows": 1234}})
    );
    assert_eq!(
        h.complete(
            "publish_report",
            json!({"status": 200, "body": {"url": "https://bi.internal/r/rep-14"}})
        ),
        ["StepCompleted publish_report#1", "WorkflowCompleted"]
    );
    assert_eq!(h.state.status, InstanceStatus::Completed);
    assert_eq!(
        h.state.output.as_ref().map(|output| &output["with_map"]),
        Some(&json!(false))
    );
}

#[test]
fn drops_the_staging_snapshot_when_a_transform_keeps_failing() {
    let mut h = extracted();
    for attempt in 1..=2 {
        assert_eq!(
            h.fail("clean_orders", true),
            [
                format!("StepFailed clean_orders#{attempt}"),
                format!("StepRetryScheduled clean_orders#{}", attempt + 1)
            ]
        );
        assert_eq!(
            fire_next_timer(&mut h),
            [format!("StepScheduled clean_orders#{}", attempt + 1)]
        );
    }
    // The snapshot is dropped only once the transforms still reading it are done.
    assert_eq!(
        h.fail("clean_orders", true),
        ["StepFailed clean_orders#3", "CompensationStarted"]
    );
    assert_eq!(
        h.complete("enrich_customers", json!({"table": "customers_enriched"})),
        ["StepCompleted enrich_customers#1"]
    );
    // While compensating, a failure is recorded and not retried.
    assert_eq!(
        h.fail("geocode_addresses", true),
        ["StepFailed geocode_addresses#1"]
    );
    assert_eq!(
        h.complete("compute_metrics", json!({"table": "metrics_daily"})),
        [
            "StepCompleted compute_metrics#1",
            "CompensationScheduled extract_sales#1"
        ]
    );
    assert_eq!(
        compensation_input(&h, "extract_sales"),
        json!({"drop_snapshot": "s3://staging/sales/2026-03-14"})
    );
    undo_last(&mut h, "extract_sales");
    assert_eq!(status(&h, "aggregate_report"), StepStatus::Pending);
    assert_eq!(status(&h, "publish_report"), StepStatus::Pending);
}
