import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { QueueSet } from "../../jobs/connection.ts";
import { QUEUES } from "../../jobs/queues.ts";
import { errorBody } from "../errors.ts";

const QUEUE_DASHBOARD_PATH = "/admin/queues";

const dashboardErrors: Record<number, [string, string]> = {
  403: ["forbidden", "the queue dashboard does not serve this path"],
  404: ["not_found", "the queue dashboard has no such queue, job or file"],
};

/** An error answer of the dashboard rewritten in the API's error shape; other answers pass unchanged. */
function inErrorShape(reply: FastifyReply, payload: unknown): unknown {
  if (reply.statusCode < 400 || typeof payload !== "string") return payload;
  try {
    const parsed = JSON.parse(payload) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === "string" && typeof parsed.error.message === "string") return payload;
  } catch {
    // Not JSON: rewritten below.
  }
  const [code, message] = dashboardErrors[reply.statusCode] ?? [
    reply.statusCode >= 500 ? "internal_error" : "bad_request",
    reply.statusCode >= 500
      ? "the queue dashboard failed; it is logged"
      : "the queue dashboard refused the request",
  ];
  reply.type("application/json; charset=utf-8");
  return JSON.stringify(errorBody(code, message));
}

/**
 * BullMQ's dashboard (bull-board), for admin keys only. Every route the
 * dashboard adds is marked admin; a browser is asked for Basic credentials,
 * with the API key as the password.
 */
export async function registerQueueDashboard(app: FastifyInstance, queues: QueueSet): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  const adapters = Object.values(QUEUES).map((name) => {
    const queue = queues.get(name);
    // Connection errors are logged once a minute by the connection's own handler (queue-access.ts).
    queue.on("error", () => {});
    return new BullMQAdapter(queue);
  });
  createBullBoard({
    queues: adapters,
    serverAdapter,
    options: { uiConfig: { boardTitle: "signaltag queues" } },
  });
  await app.register(async (scope) => {
    // The dashboard answers its own errors in its own shape ({"error":{"key":...}}): the one shape instead.
    scope.addHook("onSend", async (_request, reply, payload) => inErrorShape(reply, payload));
    scope.addHook("onRoute", (route) => {
      route.config = { ...(route.config ?? {}), role: "admin", basicChallenge: true };
      route.schema = { ...(route.schema ?? {}), hide: true };
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
  });
}
