import type { FastifyInstance } from "fastify";
import { InputError } from "../../errors/index.ts";
import { parseInstant } from "../../facts/time.ts";
import { enqueueWebhookDrain } from "../../jobs/deliver-webhooks.ts";
import {
  deliveryOptions,
  listDeliveries,
  pingSubscription,
  replayDeliveries,
} from "../../webhooks/deliveries.ts";
import {
  createSubscription,
  getSubscription,
  listSubscriptions,
  removeSubscription,
  SOURCE_KINDS,
  setSubscriptionEnabled,
  WEBHOOK_EVENTS,
} from "../../webhooks/subscriptions.ts";
import { actorOf } from "../auth.ts";
import type { ApiDeps } from "../deps.ts";
import { bodyErrorResponses, errorResponses, notFoundResponse, openArray, openObject } from "../schemas.ts";

const admin = { role: "admin" } as const;
const security = [{ bearer: [] }];
const tags = ["webhooks"];
const subscriptionParams = {
  type: "object",
  properties: { id: { type: "integer", minimum: 1, maximum: 2_147_483_647 } },
  required: ["id"],
  additionalProperties: false,
} as const;
const deliveryParams = {
  type: "object",
  properties: { deliveryId: { type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER } },
  required: ["deliveryId"],
  additionalProperties: false,
} as const;
const subscription = openObject("a subscription (never its secret)", {
  id: { type: "integer" },
  url: { type: "string" },
  events: { type: "array", items: { type: "string" } },
  tags: { type: ["array", "null"], items: { type: "string" } },
  entityType: { type: ["string", "null"] },
  sources: { type: ["array", "null"], items: { type: "string" } },
  enabled: { type: "boolean" },
  disabledReason: { type: ["string", "null"] },
});
const missing = notFoundResponse("no webhook subscription with that id");
const stringList = (description: string, items: Record<string, unknown> = { type: "string", minLength: 1 }) =>
  ({ type: "array", items, maxItems: 100, description }) as const;

interface CreateBody {
  url: string;
  events?: string[];
  tags?: string[];
  entityType?: "user" | "account" | null;
  sources?: string[];
  maxInFlight?: number;
  ratePerSecond?: number | null;
}

/** Admin routes for webhook subscriptions and their deliveries (the CLI's `webhooks` commands). */
export function registerWebhookRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const db = deps.database.db;
  const nudge = async () => {
    if (deps.queues) await enqueueWebhookDrain(deps.queues);
  };

  app.post<{ Body: CreateBody }>(
    "/v1/webhooks",
    {
      config: admin,
      schema: {
        operationId: "createWebhook",
        summary: "Subscribe a URL to tag changes; the answer holds the signing secret, shown this once",
        tags,
        security,
        body: {
          type: "object",
          properties: {
            url: { type: "string", minLength: 1, maxLength: 2000 },
            events: stringList("tag.added and/or tag.removed; both when absent", {
              type: "string",
              enum: [...WEBHOOK_EVENTS],
            }),
            tags: stringList("only changes of these tags (case-insensitive)"),
            entityType: { type: ["string", "null"], enum: ["user", "account", null] },
            sources: stringList(`only changes by these sources: ${SOURCE_KINDS.join(", ")} or rule:<id>`),
            maxInFlight: { type: "integer", minimum: 1, maximum: 1000 },
            ratePerSecond: { type: ["integer", "null"], minimum: 1, maximum: 100_000 },
          },
          required: ["url"],
          additionalProperties: false,
        },
        response: {
          201: openObject("the subscription, with `secret` (whsec_ + base64)", {
            secret: { type: "string" },
          }),
          ...errorResponses,
          ...bodyErrorResponses,
        },
      },
    },
    async (request, reply) => {
      const { subscription: created, secret } = await createSubscription(db, {
        ...request.body,
        actor: actorOf(request),
      });
      return reply.status(201).send({ ...created, secret });
    },
  );

  app.get(
    "/v1/webhooks",
    {
      config: admin,
      schema: {
        operationId: "listWebhooks",
        summary: "Every webhook subscription",
        tags,
        security,
        response: { 200: { type: "array", items: subscription }, ...errorResponses },
      },
    },
    async () => listSubscriptions(db),
  );

  app.get<{ Params: { id: number } }>(
    "/v1/webhooks/:id",
    {
      config: admin,
      schema: {
        operationId: "getWebhook",
        summary: "One webhook subscription",
        tags,
        security,
        params: subscriptionParams,
        response: { 200: subscription, ...missing, ...errorResponses },
      },
    },
    async (request) => getSubscription(db, request.params.id),
  );

  for (const enabled of [true, false]) {
    app.post<{ Params: { id: number } }>(
      `/v1/webhooks/:id/${enabled ? "enable" : "disable"}`,
      {
        config: admin,
        schema: {
          operationId: enabled ? "enableWebhook" : "disableWebhook",
          summary: enabled
            ? "Send a subscription's deliveries again, those that waited included"
            : "Stop sending a subscription's deliveries, and queue none for it while disabled",
          tags,
          security,
          params: subscriptionParams,
          response: { 200: subscription, ...missing, ...errorResponses },
        },
      },
      async (request) => {
        const s = await setSubscriptionEnabled(
          db,
          request.params.id,
          enabled,
          `disabled by ${actorOf(request)}`,
        );
        if (enabled) await nudge();
        return s;
      },
    );
  }

  app.delete<{ Params: { id: number } }>(
    "/v1/webhooks/:id",
    {
      config: admin,
      schema: {
        operationId: "removeWebhook",
        summary: "Delete a subscription and its deliveries",
        tags,
        security,
        params: subscriptionParams,
        response: {
          200: openObject("how many deliveries went with it", { deliveries: { type: "integer" } }),
          ...missing,
          ...errorResponses,
        },
      },
    },
    async (request) => removeSubscription(db, request.params.id),
  );

  app.post<{ Params: { id: number } }>(
    "/v1/webhooks/:id/test",
    {
      config: admin,
      schema: {
        operationId: "testWebhook",
        summary: "Send a signed ping now and report the receiver's answer",
        tags,
        security,
        params: subscriptionParams,
        response: {
          200: openObject("the ping's webhook-id and how it went", {
            webhookId: { type: "string" },
            ok: { type: "boolean" },
            status: { type: ["integer", "null"] },
            error: { type: ["string", "null"] },
          }),
          ...missing,
          ...errorResponses,
        },
      },
    },
    async (request) => pingSubscription(db, request.params.id, deliveryOptions(deps.config)),
  );

  app.get<{ Params: { id: number }; Querystring: { failed?: boolean; before?: number; limit?: number } }>(
    "/v1/webhooks/:id/deliveries",
    {
      config: admin,
      schema: {
        operationId: "listWebhookDeliveries",
        summary: "A subscription's deliveries, newest first",
        tags,
        security,
        params: subscriptionParams,
        querystring: {
          type: "object",
          properties: {
            failed: { type: "boolean", description: "only deliveries given up" },
            before: {
              type: "integer",
              minimum: 1,
              description: "deliveries with ids below this (the next page)",
            },
            limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
          },
          additionalProperties: false,
        },
        response: { 200: openArray("deliveries"), ...missing, ...errorResponses },
      },
    },
    async (request) =>
      listDeliveries(db, {
        subscriptionId: request.params.id,
        failed: request.query.failed,
        beforeId: request.query.before,
        limit: request.query.limit,
      }),
  );

  app.post<{ Params: { deliveryId: number } }>(
    "/v1/webhooks/deliveries/:deliveryId/replay",
    {
      config: admin,
      schema: {
        operationId: "replayWebhookDelivery",
        summary: "Send a delivery again, with its webhook-id",
        tags,
        security,
        params: deliveryParams,
        response: {
          200: openObject("the deliveries queued again", {
            replayed: { type: "array", items: { type: "integer" } },
          }),
          ...notFoundResponse("no such delivery, or it is being sent right now"),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const replayed = await replayDeliveries(db, { id: request.params.deliveryId });
      await nudge();
      return { replayed };
    },
  );

  app.post<{ Body: { since: string; subscriptionId?: number } }>(
    "/v1/webhooks/deliveries/replay",
    {
      config: admin,
      schema: {
        operationId: "replayFailedWebhookDeliveries",
        summary: "Send again every failed delivery created since a time",
        tags,
        security,
        body: {
          type: "object",
          properties: {
            since: { type: "string", description: "an ISO-8601 instant" },
            subscriptionId: { type: "integer", minimum: 1 },
          },
          required: ["since"],
          additionalProperties: false,
        },
        response: {
          200: openObject("the deliveries queued again", {
            replayed: { type: "array", items: { type: "integer" } },
          }),
          ...errorResponses,
          ...bodyErrorResponses,
        },
      },
    },
    async (request) => {
      const since = parseInstant(request.body.since);
      if (!since) {
        throw new InputError(`body.since ${JSON.stringify(request.body.since)} is not an ISO-8601 instant`, {
          details: { field: "body.since" },
        });
      }
      const replayed = await replayDeliveries(db, { since, subscriptionId: request.body.subscriptionId });
      if (replayed.length > 0) await nudge();
      return { replayed };
    },
  );
}
