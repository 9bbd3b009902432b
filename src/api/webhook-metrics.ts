import { Gauge, type Registry } from "prom-client";
import type { DbOrTx } from "../db/client.ts";
import { type WebhookFigures, webhookFigures } from "../webhooks/deliveries.ts";

/**
 * The webhook outbox's figures per subscription, read from the database at
 * scrape time (so they count what every worker did): pending deliveries, the
 * age of the oldest pending one, and deliveries given up.
 */
export function registerWebhookGauges(registry: Registry, db: DbOrTx): void {
  const registers = [registry];
  const gauge = (name: string, help: string, value: (f: WebhookFigures) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ["subscription"],
      registers,
      async collect() {
        this.reset();
        for (const f of await webhookFigures(db)) {
          const v = value(f);
          if (v !== null) this.set({ subscription: String(f.subscriptionId) }, v);
        }
      },
    });
  gauge(
    "signaltag_webhook_deliveries_pending",
    "Webhook deliveries not yet delivered nor given up, by subscription.",
    (f) => f.pending,
  );
  gauge(
    "signaltag_webhook_oldest_pending_seconds",
    "Age of each subscription's oldest pending webhook delivery (0 when none is pending).",
    (f) => f.oldestPendingSeconds ?? 0,
  );
  gauge(
    "signaltag_webhook_deliveries_failed",
    "Webhook deliveries given up after a day of retries (replayable), by subscription.",
    (f) => f.failed,
  );
}
