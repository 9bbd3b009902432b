import type { FastifyInstance } from "fastify";
import { parseMembershipInstant } from "../../tags/as-of.ts";
import { listTags, tagsArePermanent } from "../../tags/catalog.ts";
import { membersOf } from "../../tags/history.ts";
import type { ApiDeps } from "../deps.ts";
import {
  asOfQuery,
  collections,
  cursorQuery,
  errorResponse,
  errorResponses,
  notFoundResponse,
  tagName,
} from "../schemas.ts";

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
        operationId: "listTags",
        summary: "Every tag with how many accounts and users have it",
        description:
          "Tags are made on first use (tagging an entity by hand, a rule, a file) and are permanent: PATCH, PUT and DELETE on /v1/tags/{tag} answer 409.",
        tags: ["tags"],
        security: [{ bearer: [] }],
        response: {
          200: {
            type: "array",
            description: "every tag, by name",
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
        // Not an operation a client can use: listTags' description says tags are permanent.
        hide: true,
        summary: method === "DELETE" ? "Refused: tags are never deleted" : "Refused: tags are never renamed",
        tags: ["tags"],
        security: [{ bearer: [] }],
        params: tagParams,
        response: { 409: errorResponse("tags are permanent"), ...errorResponses },
      },
      handler: async (request) => {
        throw tagsArePermanent(method === "DELETE" ? "delete" : "rename", request.params.tag);
      },
    });
  }

  for (const { path, type, plural } of collections) {
    app.get<{ Params: { tag: string }; Querystring: { asOf?: string; cursor?: string; limit?: number } }>(
      `/v1/tags/:tag/${path}`,
      {
        config: { role: "viewer" },
        schema: {
          operationId: `listTag${plural}`,
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
              description: `a page of the ${path}' ids, in id order`,
              properties: {
                tag: { type: "string" },
                entityType: { type: "string" },
                asOf: { type: ["string", "null"] },
                ids: { type: "array", items: { type: "string" } },
                nextCursor: { type: ["string", "null"] },
              },
            },
            ...notFoundResponse("no tag of that name"),
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
