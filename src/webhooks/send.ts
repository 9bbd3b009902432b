import http from "node:http";
import https from "node:https";
import { deliveryBody } from "./payload.ts";
import { messageId, signedHeaders } from "./signing.ts";
import type { LeasedDelivery } from "./sql/deliveries.ts";

/** What one HTTP attempt came to. */
export type SendResult =
  | { kind: "delivered"; status: number }
  | { kind: "gone"; status: 410 }
  | { kind: "retry"; status: number | null; error: string };

// Connections to a receiver are kept and reused: a flood of deliveries to one URL
// would otherwise pay a TCP (and TLS) handshake per request.
const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 256 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 256 }),
};

function describeFailure(err: NodeJS.ErrnoException, timeoutMs: number): string {
  if (err.code === "ETIMEDOUT_SIGNALTAG") return `no answer within ${timeoutMs} ms`;
  if (err.code === "ECONNREFUSED") return "connection refused";
  return err.code ? `${err.code}: ${err.message}` : err.message;
}

/** POSTs a body and resolves with the answer's status, or rejects (refused, reset, timed out). */
function post(url: URL, headers: Record<string, string>, body: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === "https:" ? https : http;
    const req = client.request(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        agent: agents[url.protocol as "http:" | "https:"],
      },
      (res) => {
        // The answer's body is not read, only drained, so the connection can serve the next request.
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    const timer = setTimeout(() => {
      req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT_SIGNALTAG" }));
    }, timeoutMs);
    req.on("error", reject);
    req.on("close", () => clearTimeout(timer));
    req.end(body);
  });
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
    const status = await post(new URL(d.url), headers, body, timeoutMs);
    if (status >= 200 && status < 300) return { kind: "delivered", status };
    if (status === 410) return { kind: "gone", status: 410 };
    return { kind: "retry", status, error: `HTTP ${status}` };
  } catch (err) {
    return { kind: "retry", status: null, error: describeFailure(err as NodeJS.ErrnoException, timeoutMs) };
  }
}
