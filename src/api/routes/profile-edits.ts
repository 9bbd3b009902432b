import type { FastifyInstance } from "fastify";
import { recentActivity } from "../../tags/activity.ts";
import { changeTags, MAX_TAG_CHANGES } from "../../tags/manual-changes.ts";
import { actorOf } from "../auth.ts";
import type { ApiDeps } from "../deps.ts";
import {
  bodyErrorResponses,
  collections,
  entityTagSchema,
  errorResponses,
  idParams,
  notFoundResponse,
  tagName,
} from "../schemas.ts";

const tagList = { type: "array", items: tagName, maxItems: MAX_TAG_CHANGES, default: [] } as const;
const changedClaim = {
  type: "object",
  properties: {
    tag: { type: "string" },
    source: { type: "string" },
    membershipChanged: { type: "boolean" },
  },
} as const;

/** What the console's profile needs beyond the profile route: one Save for an edit, and recent activity. */
export function registerProfileEditRoutes(app: FastifyInstance, deps: ApiDeps): void {
  for (const { path, type, title } of collections) {
    const notFound = notFoundResponse(`no ${type} with that id`);
    app.patch<{ Params: { id: string }; Body: { add?: string[]; remove?: string[] } }>(
      `/v1/${path}/:id/tags`,
      {
        config: { role: "editor" },
        schema: {
          operationId: `change${title}Tags`,
          summary: `Add and remove several tags of one ${type} by hand in one transaction: each added tag gets a manual claim (made on first use), each removed tag loses every claim`,
          tags: [path],
          security: [{ bearer: [] }],
          params: idParams,
          body: {
            type: "object",
            properties: { add: tagList, remove: tagList },
            additionalProperties: false,
          },
          response: {
            200: {
              type: "object",
              properties: {
                changed: { type: "boolean" },
                added: { type: "array", items: changedClaim },
                removed: { type: "array", items: changedClaim },
                tags: { type: "array", items: entityTagSchema },
              },
            },
            ...notFound,
            ...errorResponses,
            ...bodyErrorResponses,
          },
        },
      },
      async (request) => {
        const result = await changeTags(
          deps.database.db,
          {
            type,
            id: request.params.id,
            add: request.body?.add ?? [],
            remove: request.body?.remove ?? [],
            actor: actorOf(request),
          },
          deps.tagHooks,
        );
        deps.metrics.countClaims(
          "added",
          result.added.map((c) => c.source),
        );
        deps.metrics.countClaims(
          "removed",
          result.removed.map((c) => c.source),
        );
        return result;
      },
    );

    app.get<{ Params: { id: string }; Querystring: { days?: number } }>(
      `/v1/${path}/:id/activity`,
      {
        config: { role: "viewer" },
        schema: {
          operationId: `get${title}Activity`,
          summary: `A ${type}'s events per calendar day (workspace time zone) over the last days, and its active days`,
          tags: [path],
          security: [{ bearer: [] }],
          params: idParams,
          querystring: {
            type: "object",
            properties: { days: { type: "integer", minimum: 1, maximum: 366, default: 30 } },
            additionalProperties: false,
          },
          response: {
            200: {
              type: "object",
              properties: {
                today: { type: "string", format: "date" },
                activeDays: { type: "integer" },
                events: { type: "number" },
                days: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: { day: { type: "string" }, events: { type: "number" } },
                  },
                },
              },
            },
            ...notFound,
            ...errorResponses,
          },
        },
      },
      async (request) =>
        recentActivity(deps.database.db, {
          type,
          id: request.params.id,
          now: deps.clock(),
          timezone: deps.config.timezone,
          window: request.query.days ?? 30,
        }),
    );
  }
}
