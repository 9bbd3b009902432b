import type { FastifyInstance } from "fastify";
import { InputError } from "../../errors/index.ts";
import { parseInstant } from "../../facts/time.ts";
import { liftSuppression, suppress, suppressionsOf } from "../../tags/suppress.ts";
import { actorOf } from "../auth.ts";
import type { ApiDeps } from "../deps.ts";
import {
  bodyErrorResponses,
  collections,
  errorResponses,
  idParams,
  notFoundResponse,
  tagName,
} from "../schemas.ts";

const suppressionSchema = {
  type: "object",
  properties: {
    id: { type: "integer" },
    tag: { type: "string" },
    entityType: { type: "string" },
    entityId: { type: "string" },
    ruleId: { type: ["string", "null"] },
    until: { type: ["string", "null"] },
    reason: { type: ["string", "null"] },
    createdBy: { type: ["string", "null"] },
    createdAt: { type: "string" },
    liftedAt: { type: ["string", "null"] },
    liftedBy: { type: ["string", "null"] },
    status: { type: "string", enum: ["active", "lifted", "expired"] },
  },
} as const;

interface SuppressBody {
  tag: string;
  rule?: string | null;
  until?: string | null;
  reason?: string | null;
}

export function registerSuppressionRoutes(app: FastifyInstance, deps: ApiDeps): void {
  for (const { path, type, title } of collections) {
    app.post<{ Params: { id: string }; Body: SuppressBody }>(
      `/v1/${path}/:id/suppressions`,
      {
        config: { role: "editor" },
        schema: {
          operationId: `suppress${title}Tag`,
          summary: `Suppress a rule's tag on one ${type}: the rule's claim goes now and is not made again until the suppression ends or is lifted`,
          tags: ["suppressions"],
          security: [{ bearer: [] }],
          params: idParams,
          body: {
            type: "object",
            properties: {
              tag: tagName,
              rule: {
                type: ["string", "null"],
                minLength: 1,
                description: "one rule's id; every rule when absent",
              },
              until: {
                type: ["string", "null"],
                description: "ISO-8601 instant when the suppression ends by itself; never when absent",
              },
              reason: { type: ["string", "null"], maxLength: 2000 },
            },
            required: ["tag"],
            additionalProperties: false,
          },
          response: {
            201: {
              type: "object",
              description: "the suppression made, and the sources whose claims it removed",
              properties: {
                suppression: suppressionSchema,
                removedClaims: { type: "array", items: { type: "string" } },
              },
            },
            ...notFoundResponse(`no ${type} with that id`),
            ...errorResponses,
            ...bodyErrorResponses,
          },
        },
      },
      async (request, reply) => {
        let until: Date | null = null;
        if (request.body.until) {
          const parsed = parseInstant(request.body.until);
          if (!parsed) {
            throw new InputError(
              `body.until ${JSON.stringify(request.body.until)} is not an ISO-8601 instant`,
              {
                details: { field: "body.until" },
              },
            );
          }
          until = parsed;
        }
        const result = await suppress(
          deps.database.db,
          {
            type,
            id: request.params.id,
            tag: request.body.tag,
            ruleId: request.body.rule ?? null,
            until,
            reason: request.body.reason ?? null,
            actor: actorOf(request),
            now: deps.clock(),
          },
          deps.tagHooks,
        );
        deps.metrics.countClaims("removed", result.removedClaims);
        return reply.status(201).send(result);
      },
    );

    app.get<{ Params: { id: string }; Querystring: { all?: boolean } }>(
      `/v1/${path}/:id/suppressions`,
      {
        config: { role: "viewer" },
        schema: {
          operationId: `list${title}Suppressions`,
          summary: `A ${type}'s suppressions in force (all=true: also lifted and expired ones)`,
          tags: ["suppressions"],
          security: [{ bearer: [] }],
          params: idParams,
          querystring: {
            type: "object",
            properties: { all: { type: "boolean", default: false } },
            additionalProperties: false,
          },
          response: {
            200: { type: "array", description: "newest first", items: suppressionSchema },
            ...errorResponses,
          },
        },
      },
      async (request) =>
        suppressionsOf(deps.database.db, {
          type,
          id: request.params.id,
          now: deps.clock(),
          all: request.query.all,
        }),
    );
  }

  app.delete<{ Params: { id: number } }>(
    "/v1/suppressions/:id",
    {
      config: { role: "editor" },
      schema: {
        operationId: "liftSuppression",
        summary:
          "Lift a suppression: its rules may claim the tag again, within the debounce when a queue re-evaluates the entity, else at their next run",
        tags: ["suppressions"],
        security: [{ bearer: [] }],
        params: {
          type: "object",
          properties: { id: { type: "integer", minimum: 1, maximum: 2_147_483_647 } },
          required: ["id"],
          additionalProperties: false,
        },
        response: {
          200: {
            type: "object",
            description: "changed is false when it was already lifted or had expired",
            properties: { changed: { type: "boolean" }, suppression: suppressionSchema },
          },
          ...notFoundResponse("no suppression with that id"),
          ...errorResponses,
        },
      },
    },
    async (request) =>
      liftSuppression(
        deps.database.db,
        { id: request.params.id, actor: actorOf(request), now: deps.clock() },
        deps.tagHooks,
      ),
  );
}
