import { deliveryBody } from "./payload.ts";
import { messageId, signedHeaders } from "./signing.ts";
import type { LeasedDelivery } from "./sql/deliveries.ts";

/** What one HTTP attempt came to. */
export type SendResult =
  | { kind: "delivered"; status: number }
  | { kind: "gone"; status: 410 }
  | { kind: "retry"; status: number | null; error: string };

function describeFailure(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError" || e.name === "AbortError") return `no answer within ${timeoutMs} ms`;
  const code = e.cause?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  return (code ? `${code}: ` : "") + (e.cause?.message ?? e.message ?? String(err));
}

/**
 * POSTs one delivery, signed as the Standard Webhooks spec says. 2xx is
 * delivered, 410 Gone asks us to stop, anything else (another status, a
 * redirect, a timeout, a refused connection) is retried later.
 */
export async function sendDelivery(
  d: LeasedDelivery,
  timeoutMs: number,
  now = new Date(),
): Promise<SendResult> {
  const body = deliveryBody(d);
  const headers = {
    "content-type": "application/json",
    "user-agent": "signaltag-webhooks/1",
    ...signedHeaders(d.secret, messageId(d.id), body, now),
  };
  try {
    const res = await fetch(d.url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    // The answer's body is not read: dropping it frees the connection for the next request.
    await res.body?.cancel().catch(() => {});
    if (res.status >= 200 && res.status < 300) return { kind: "delivered", status: res.status };
    if (res.status === 410) return { kind: "gone", status: 410 };
    return { kind: "retry", status: res.status, error: `HTTP ${res.status}` };
  } catch (err) {
    return { kind: "retry", status: null, error: describeFailure(err, timeoutMs) };
  }
}
