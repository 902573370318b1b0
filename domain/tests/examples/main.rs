//! The example workflows in `workflows/`, each driven through its success path
//! and its failure paths with exact event sequences: one module per example.

mod data_pipeline;
mod loan_approval;
mod order_fulfilment;
mod support;
mod travel_booking;
