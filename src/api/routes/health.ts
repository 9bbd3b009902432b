import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { pingDatabase } from "../../db/health.ts";
import type { ApiDeps } from "../deps.ts";
import { errorResponses, publicErrorResponses } from "../schemas.ts";

interface Check {
  status: "ok" | "down";
  latencyMs: number;
  error?: string;
}

class NoAnswer extends Error {}

/**
 * Runs one probe with a deadline. /health needs no key, so what went wrong is
 * said in the service's own words ("database unreachable"), never the
 * driver's message, which may quote SQL, hosts or users; the details go to
 * the server's log.
 */
async function check(
  what: string,
  timeoutMs: number,
  probe: () => Promise<void>,
  log: FastifyBaseLogger,
): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new NoAnswer()), timeoutMs);
      }),
    ]);
    return { status: "ok", latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    const error =
      err instanceof NoAnswer ? `${what} did not answer within ${timeoutMs} ms` : `${what} unreachable`;
    if (!(err instanceof NoAnswer)) log.warn({ err }, `health check: ${error}`);
    return { status: "down", latencyMs: Math.round(performance.now() - started), error };
  } finally {
    clearTimeout(timer);
  }
}

const checkSchema = {
  type: "object",
  properties: {
    status: { type: "string", enum: ["ok", "down"] },
    latencyMs: { type: "number" },
    error: { type: "string" },
  },
} as const;

const healthSchema = {
  type: "object",
  properties: {
    status: { type: "string", enum: ["ok", "down"] },
    database: checkSchema,
    redis: checkSchema,
  },
} as const;

export function registerHealthRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/health",
    {
      schema: {
        operationId: "getHealth",
        summary: "Whether the database (and Redis, when configured) answers; needs no key",
        tags: ["service"],
        response: {
          200: { ...healthSchema, description: "the database (and Redis) answered" },
          ...publicErrorResponses,
          503: { ...healthSchema, description: "the database or Redis did not answer: see which" },
        },
      },
    },
    async (request, reply) => {
      const [database, redis] = await Promise.all([
        check("database", 2000, () => pingDatabase(deps.database.db), request.log),
        deps.pingRedis ? check("Redis", 2000, deps.pingRedis, request.log) : Promise.resolve(undefined),
      ]);
      const ok = database.status === "ok" && (!redis || redis.status === "ok");
      return reply
        .status(ok ? 200 : 503)
        .send({ status: ok ? "ok" : "down", database, ...(redis ? { redis } : {}) });
    },
  );

  app.get(
    "/metrics",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "getMetrics",
        summary: "Prometheus metrics: HTTP latencies, claims added and removed, rule runs, job durations",
        tags: ["service"],
        security: [{ bearer: [] }],
        response: {
          200: {
            description: "the Prometheus text exposition format",
            content: { "text/plain": { schema: { type: "string" } } },
          },
          ...errorResponses,
        },
      },
    },
    async (_request, reply) => {
      const body = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(body);
    },
  );
}
