import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import { closeRedis } from "../jobs/connection.ts";
import { KeyAuthenticator } from "../keys/keys.ts";
import { MAX_PATH_SEGMENT_LENGTH } from "../limits.ts";
import { queueingTagHooks } from "./after-tag-change.ts";
import { registerAuth } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import {
  errorSchema,
  handleClientError,
  handleError,
  handleFrameworkError,
  handleNotFound,
} from "./errors.ts";
import { ApiMetrics } from "./metrics.ts";
import { refuseNulCharacters } from "./nul-guard.ts";
import { openQueueAccess } from "./queue-access.ts";
import { registerBulkRoutes } from "./routes/bulk.ts";
import { registerConsoleRoutes } from "./routes/console.ts";
import { registerEntityRoutes } from "./routes/entities.ts";
import { registerHealthRoutes } from "./routes/health.ts";
import { registerIngestRoutes } from "./routes/ingest.ts";
import { registerMeRoutes } from "./routes/me.ts";
import { registerProfileEditRoutes } from "./routes/profile-edits.ts";
import { registerQueueDashboard } from "./routes/queue-dashboard.ts";
import { registerRuleStatusRoutes } from "./routes/rule-status.ts";
import { registerRuleRoutes } from "./routes/rules.ts";
import { registerRunRoutes } from "./routes/runs.ts";
import { registerSearchRoutes } from "./routes/search.ts";
import { registerSegmentRoutes } from "./routes/segments.ts";
import { registerSuppressionRoutes } from "./routes/suppressions.ts";
import { registerTagRoutes } from "./routes/tags.ts";
import { registerWebhookRoutes } from "./routes/webhooks.ts";
import { validatorCompiler } from "./validation.ts";

export interface ServerOptions {
  database: Database;
  config: Config;
  /** Pino options, or false for no request logs (tests). Default: request logs at the configured level. */
  logger?: FastifyServerOptions["logger"];
  /** The clock suppressions and segment conditions are judged by (tests pass a fixed one). */
  clock?: () => Date;
}

const routeGroups = [
  registerHealthRoutes,
  registerTagRoutes,
  registerEntityRoutes,
  registerSuppressionRoutes,
  registerBulkRoutes,
  registerSegmentRoutes,
  registerRunRoutes,
  registerRuleRoutes,
  registerIngestRoutes,
  // The web console and the routes only it needed.
  registerConsoleRoutes,
  registerMeRoutes,
  registerSearchRoutes,
  registerProfileEditRoutes,
  registerRuleStatusRoutes,
  registerWebhookRoutes,
];

/**
 * The HTTP API as a Fastify instance, ready for `inject` or `listen`. It does
 * not own the database; closing the server closes what it opened itself
 * (the Redis connection when REDIS_URL is set).
 */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? {
      level: opts.config.logLevel,
      redact: ["req.headers.authorization"],
    },
    routerOptions: { maxParamLength: MAX_PATH_SEGMENT_LENGTH },
    frameworkErrors: handleFrameworkError,
    clientErrorHandler: handleClientError,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: "array", useDefaults: true, allErrors: false },
    },
  });
  const metrics = new ApiMetrics(opts.database.db);
  const queue = opts.config.redisUrl ? openQueueAccess(opts.config, app.log) : undefined;
  const deps: ApiDeps = {
    database: opts.database,
    config: opts.config,
    clock: opts.clock ?? (() => new Date()),
    metrics,
    tagHooks: queueingTagHooks(queue?.queues, opts.config, app.log),
    queues: queue?.queues,
    pingRedis: queue?.ping,
  };
  app.addHook("onClose", async () => {
    if (queue) {
      await queue.queues.close();
      await closeRedis(queue.queues.connection);
    }
  });

  app.setValidatorCompiler(validatorCompiler());
  // Every API route refuses query parameters it does not define, even when it defines none. The
  // empty `properties` matters: @fastify/swagger documents a query schema without it as if each of
  // its keywords (type, additionalProperties) were a query parameter.
  app.addHook("onRoute", (route) => {
    if (!/^\/(v1\/|health$|metrics$)/.test(route.url) || route.schema?.querystring) return;
    route.schema = {
      ...(route.schema ?? {}),
      querystring: { type: "object", properties: {}, additionalProperties: false },
    };
  });
  refuseNulCharacters(app);
  app.addSchema(errorSchema);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
  app.addHook("onResponse", async (request, reply) => {
    metrics.httpDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? "(unmatched)",
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
  registerAuth(app, new KeyAuthenticator(opts.database.db));

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "signaltag",
        description:
          'Tags for customer accounts and users: by rules, by hand, in bulk and by file; segments, profiles and history. Every route but /health and these docs needs `Authorization: Bearer <key>` (signaltag keys create). Errors are `{ "error": { "code", "message", ... } }`.',
        version: "1",
      },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer" },
          basic: { type: "http", scheme: "basic" },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  for (const register of routeGroups) register(app, deps);
  if (queue) await registerQueueDashboard(app, queue.queues);
  return app;
}
