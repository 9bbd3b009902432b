import { createHmac, randomBytes } from "node:crypto";

const SECRET_PREFIX = "whsec_";

/** A new signing secret as the Standard Webhooks spec writes it: whsec_ + base64 of 24 random bytes. */
export function newSecret(): string {
  return SECRET_PREFIX + randomBytes(24).toString("base64");
}

/** The key bytes of a secret: the base64 after the whsec_ prefix. */
function secretKey(secret: string): Buffer {
  return Buffer.from(
    secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret,
    "base64",
  );
}

/**
 * The webhook-signature header: `v1,` + base64 HMAC-SHA256 of
 * `id.timestamp.body` under the decoded secret (Standard Webhooks).
 * `timestamp` is whole seconds since the epoch, as sent in webhook-timestamp.
 */
export function signature(secret: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac("sha256", secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest("base64");
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers of one attempt. */
export function signedHeaders(
  secret: string,
  id: string,
  body: string,
  now: Date,
): Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signature(secret, id, timestamp, body),
  };
}

/** The webhook-id of a delivery: stable across its retries and replays. */
export function messageId(deliveryId: number | string): string {
  return `msg_${deliveryId}`;
}
