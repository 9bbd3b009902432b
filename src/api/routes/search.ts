import type { FastifyInstance } from "fastify";
import { search, searchTagNames } from "../../tags/search.ts";
import type { ApiDeps } from "../deps.ts";
import { errorResponses } from "../schemas.ts";

const queryString = {
  type: "object",
  properties: {
    q: { type: "string", maxLength: 1000, description: "the start of an id, a name or an email" },
    limit: { type: "integer", minimum: 1, maximum: 50, default: 10 },
  },
  required: ["q"],
  additionalProperties: false,
} as const;

export function registerSearchRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get<{ Querystring: { q: string; limit?: number } }>(
    "/v1/search",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "search",
        summary:
          "Accounts and users whose id starts with q, or whose name or email starts with it (any case): a handful, exact ids first",
        tags: ["search"],
        security: [{ bearer: [] }],
        querystring: queryString,
        response: {
          200: {
            type: "object",
            properties: {
              results: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    type: { type: "string", enum: ["account", "user"] },
                    id: { type: "string" },
                    name: { type: ["string", "null"] },
                    email: { type: ["string", "null"] },
                    accountId: { type: ["string", "null"] },
                  },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => ({ results: await search(deps.database.db, request.query.q, request.query.limit) }),
  );

  app.get<{ Querystring: { q: string; limit?: number } }>(
    "/v1/search/tags",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "searchTags",
        summary: "Tag names starting with q (any case), for suggestions while typing",
        tags: ["search"],
        security: [{ bearer: [] }],
        querystring: queryString,
        response: {
          200: {
            type: "object",
            properties: { tags: { type: "array", items: { type: "string" } } },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => ({
      tags: await searchTagNames(deps.database.db, request.query.q, request.query.limit),
    }),
  );
}
