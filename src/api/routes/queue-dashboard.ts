import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { FastifyInstance } from "fastify";
import type { QueueSet } from "../../jobs/connection.ts";
import { QUEUES } from "../../jobs/queues.ts";

const QUEUE_DASHBOARD_PATH = "/admin/queues";

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
    scope.addHook("onRoute", (route) => {
      route.config = { ...(route.config ?? {}), role: "admin", basicChallenge: true };
      route.schema = { ...(route.schema ?? {}), hide: true };
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
  });
}
