import type { FastifyInstance } from "fastify";
import { parseMembershipInstant } from "../../tags/as-of.ts";
import { listTags, tagsArePermanent } from "../../tags/catalog.ts";
import { membersOf } from "../../tags/history.ts";
import type { ApiDeps } from "../deps.ts";
import { asOfQuery, collections, cursorQuery, errorResponses, tagName } from "../schemas.ts";

const tagParams = {
  type: "object",
  properties: { tag: tagName },
  required: ["tag"],
  additionalProperties: false,
} as const;

export function registerTagRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/v1/tags",
    {
      config: { role: "viewer" },
      schema: {
        summary: "Every tag with how many accounts and users have it",
        tags: ["tags"],
        security: [{ bearer: [] }],
        response: {
          200: {
            type: "array",
            items: {
              type: "object",
              properties: {
                name: { type: "string" },
                accounts: { type: "integer" },
                users: { type: "integer" },
                createdAt: { type: "string" },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async () => listTags(deps.database.db),
  );

  // Tags are permanent: the routes exist so that clients get a clear 409 instead of a 404.
  for (const method of ["PATCH", "PUT", "DELETE"] as const) {
    app.route<{ Params: { tag: string } }>({
      method,
      url: "/v1/tags/:tag",
      config: { role: "editor" },
      schema: {
        summary: method === "DELETE" ? "Refused: tags are never deleted" : "Refused: tags are never renamed",
        tags: ["tags"],
        security: [{ bearer: [] }],
        params: tagParams,
        response: { 409: { $ref: "error#" }, ...errorResponses },
      },
      handler: async (request) => {
        throw tagsArePermanent(method === "DELETE" ? "delete" : "rename", request.params.tag);
      },
    });
  }

  for (const { path, type } of collections) {
    app.get<{ Params: { tag: string }; Querystring: { asOf?: string; cursor?: string; limit?: number } }>(
      `/v1/tags/:tag/${path}`,
      {
        config: { role: "viewer" },
        schema: {
          summary: `The ${path} that have a tag now, or had it as of a past date (replayed from history)`,
          tags: ["tags"],
          security: [{ bearer: [] }],
          params: tagParams,
          querystring: {
            type: "object",
            properties: {
              asOf: asOfQuery,
              ...cursorQuery,
              limit: { type: "integer", minimum: 1, maximum: 10_000, default: 1000 },
            },
            additionalProperties: false,
          },
          response: {
            200: {
              type: "object",
              properties: {
                tag: { type: "string" },
                entityType: { type: "string" },
                asOf: { type: ["string", "null"] },
                ids: { type: "array", items: { type: "string" } },
                nextCursor: { type: ["string", "null"] },
              },
            },
            404: { $ref: "error#" },
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const asOf =
          request.query.asOf === undefined
            ? undefined
            : parseMembershipInstant(request.query.asOf, deps.config.timezone, "query.asOf");
        return membersOf(deps.database.db, {
          tag: request.params.tag,
          type,
          asOf,
          cursor: request.query.cursor,
          limit: request.query.limit,
        });
      },
    );
  }
}
