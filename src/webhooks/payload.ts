import type { LeasedDelivery } from "./sql/deliveries.ts";

function isoOrNull(v: string | Date | null): string | null {
  return v === null ? null : new Date(v).toISOString();
}

/**
 * The JSON body of a delivery. It is built from the tag event alone, so every
 * attempt of one delivery sends the same bytes (only the headers' timestamp
 * and signature change).
 */
export function deliveryBody(d: LeasedDelivery): string {
  const timestamp = new Date(d.occurred_at).toISOString();
  if (d.type === "ping") {
    return JSON.stringify({ type: "ping", timestamp, data: { subscriptionId: d.subscription_id } });
  }
  return JSON.stringify({
    type: d.type,
    timestamp,
    data: {
      entityType: d.entity_type,
      entityId: d.entity_id,
      tag: d.tag,
      source: d.source,
      ruleId: d.rule_id,
      ruleName: d.rule_name,
      reason: d.reason,
      tagEventId: d.tag_event_id,
      asOf: isoOrNull(d.as_of),
    },
  });
}
