import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface Received {
  id: string;
  /** What the receiver answered. */
  status: number;
  verified: boolean;
  body: {
    type: string;
    timestamp: string;
    data: Record<string, unknown> & {
      entityType?: string;
      entityId?: string;
      tag?: string;
      tagEventId?: number;
    };
  };
}

/**
 * A real HTTP receiver on loopback that verifies every request with the
 * `standardwebhooks` package, as a subscriber would, and answers what
 * `answer` says (200 by default; a promise holds the request open).
 */
export interface Receiver {
  readonly url: string;
  secret: string;
  answer: (r: { id: string; count: number }) => number | Promise<number>;
  readonly requests: Received[];
  /** webhook-ids of requests as they arrive, before they are answered. */
  readonly arrived: string[];
  /** When each request arrived (performance.now(), ms), in arrival order. */
  readonly arrivedAt: number[];
  /** Requests answered 2xx. */
  delivered(): Received[];
  clear(): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: Received[] = [];
  const arrived: string[] = [];
  const arrivedAt: number[] = [];
  const seen = new Map<string, number>();
  const server = http.createServer((req, res) => {
    arrivedAt.push(performance.now());
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const id = String(req.headers["webhook-id"]);
      let verified = false;
      try {
        new Webhook(receiver.secret).verify(text, req.headers as Record<string, string>);
        verified = true;
      } catch {
        verified = false;
      }
      arrived.push(id);
      const count = (seen.get(id) ?? 0) + 1;
      seen.set(id, count);
      const status = await receiver.answer({ id, count });
      requests.push({ id, status, verified, body: JSON.parse(text) });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/hooks`,
    secret: "",
    answer: () => 200,
    requests,
    arrived,
    arrivedAt,
    delivered: () => requests.filter((r) => r.status >= 200 && r.status < 300),
    clear() {
      requests.length = 0;
      arrived.length = 0;
      arrivedAt.length = 0;
      seen.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}
