// Workers for the task queues of the example workflows in workflows/, with
// the TypeScript SDK: stand-ins for the payment provider, the warehouse, the
// credit bureau, the suppliers and the ETL jobs, each answering with an output
// built from its input and idempotency key (so a step run twice gives the same).
//
//     node workflows.js amqp amqp://guest:guest@localhost:5672/%2f
//     node workflows.js http http://localhost:8080 [TOKEN]
//
// A hotel in a city called `SOLD-OUT` fails for good, so the travel booking
// compensates.

"use strict";
const { Permanent, Worker } = require("..");

const [transport, url, token] = process.argv.slice(2);
const worker =
  transport === "amqp"
    ? new Worker({ amqpUrl: url, name: "examples-typescript" })
    : new Worker({ httpUrl: url, token, name: "examples-typescript" });

// order-fulfilment
worker.task("payments", async (task) => {
  await task.heartbeat({ progress: 50, message: `authorising ${task.input.amount}` });
  task.log("charging %s %s", task.input.amount, task.input.currency);
  return { charge_id: `ch-${task.idempotencyKey}`, amount: task.input.amount };
});
worker.compensation("payments", (task) => ({ refunded: task.input.refund_of }));
worker.task("shipping", (task) => ({
  shipment_id: `sh-${task.input.order_id}`,
  tracking_number: `TR-${task.input.order_id}`,
}));
worker.compensation("shipping", (task) => ({ cancelled: task.input.cancel_shipment }));

// loan-approval
worker.task("credit", (task) => ({ score: 780, applicant: task.input.applicant_id }));
worker.task("payouts", (task) => ({ transfer_id: `tr-${task.input.application_id}`, amount: task.input.amount }));

// travel-booking
worker.task("flights", (task) => ({ pnr: `PNR-${task.input.trip_id}` }));
worker.compensation("flights", (task) => ({ cancelled: task.input.cancel_booking }));
worker.task("hotels", (task) => {
  if (task.input.city === "SOLD-OUT") throw new Permanent(`no room in ${task.input.city}`);
  return { confirmation: `H-${task.input.trip_id}` };
});
worker.compensation("hotels", (task) => ({ cancelled: task.input.cancel_reservation }));
worker.task("cars", (task) => ({ rental_id: `C-${task.input.trip_id}` }));
worker.compensation("cars", (task) => ({ cancelled: task.input.cancel_rental }));
worker.task("notifications", (task) => ({ sent_to: task.input.to, template: task.input.template }));

// data-pipeline
worker.task("etl.extract", (task) => ({ snapshot: `snap-${task.input.date}-${task.input.region}` }));
worker.compensation("etl.extract", (task) => ({ dropped: task.input.drop_snapshot }));
worker.task("etl.transform", async (task) => {
  await task.heartbeat({ progress: 100 });
  return { table: `${task.input.job}@${task.input.snapshot}` };
});
worker.task("etl.geocode", (task) => ({ table: `geo@${task.input.snapshot}` }));
worker.task("etl.aggregate", (task) => ({ report: `report-${task.input.date}`, tables: task.input.tables }));

worker.run().catch((error) => {
  console.error(error);
  process.exit(1);
});
