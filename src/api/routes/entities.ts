import type { FastifyInstance } from "fastify";
import { entityExists } from "../../facts/sql/entities.ts";
import { historyOf } from "../../tags/history.ts";
import { applyTag, entityNotFound, removeTag, type TagChangeResult } from "../../tags/manual.ts";
import { profileOf, usersOfAccount } from "../../tags/profile.ts";
import { actorOf } from "../auth.ts";
import type { ApiDeps } from "../deps.ts";
import {
  bodyErrorResponses,
  collections,
  cursorQuery,
  entityId,
  entityTagSchema,
  errorResponses,
  idParams,
  notFoundResponse,
  openArray,
  openObject,
  tagName,
} from "../schemas.ts";

const tagChangeSchema = {
  type: "object",
  description: "what changed, and the entity's tags after it",
  properties: {
    changed: {
      type: "boolean",
      description: "false when nothing changed (already tagged by hand, or no such tag)",
    },
    tag: { type: "string", description: "the tag's display name as stored" },
    claims: {
      type: "array",
      description: "claims added or removed by this request",
      items: {
        type: "object",
        properties: { source: { type: "string" }, membershipChanged: { type: "boolean" } },
      },
    },
    tags: { type: "array", items: entityTagSchema, description: "the entity's tags after the change" },
  },
} as const;

const nextCursor = { type: ["string", "null"], description: "pass as cursor for the next page" } as const;

const historySchema = openObject("history entries, newest first", {
  entries: openArray(
    "kind (tag or suppression), at, tag, action, source, actor, summary (a sentence), and the rule and explanation of a rule's claim",
  ),
  nextCursor,
});

const usersPageSchema = openObject("a page of the account's users, in id order", {
  users: openArray("id, email, name, createdAt and the user's tag names"),
  nextCursor,
});

function answer(deps: ApiDeps, direction: "added" | "removed", r: TagChangeResult) {
  deps.metrics.countClaims(
    direction,
    r.claims.map((c) => c.source),
  );
  return { changed: r.changed, tag: r.tag, claims: r.claims, tags: r.tags };
}

export function registerEntityRoutes(app: FastifyInstance, deps: ApiDeps): void {
  for (const { path, type, title } of collections) {
    const tags = [path];
    const notFound = notFoundResponse(`no ${type} with that id`);
    app.get<{ Params: { id: string } }>(
      `/v1/${path}/:id`,
      {
        config: { role: "viewer" },
        schema: {
          operationId: `get${title}`,
          summary:
            type === "account"
              ? "An account's profile: fields, attributes, tags with their claims, suppressions, its users with their tags"
              : "A user's profile: fields, attributes, account, tags with their claims, suppressions",
          tags,
          security: [{ bearer: [] }],
          params: idParams,
          response: {
            200: openObject(
              type === "account"
                ? "the account's fields and attributes, tags (each with its claims), suppressions in force, userCount, the first page of its users and usersNextCursor"
                : "the user's fields and attributes, its account (with the account's tag names), tags (each with its claims) and suppressions in force",
              // The fields keep their order (type and id first); the rest are described above.
              { type: { type: "string", enum: [type] }, id: { type: "string" } },
            ),
            ...notFound,
            ...errorResponses,
          },
        },
      },
      async (request) => profileOf(deps.database.db, type, request.params.id, deps.clock()),
    );

    app.post<{ Params: { id: string }; Body: { tag: string } }>(
      `/v1/${path}/:id/tags`,
      {
        config: { role: "editor" },
        schema: {
          operationId: `add${title}Tag`,
          summary: `Tag one ${type} by hand (source manual, the key's name as actor); the tag is created on first use`,
          tags,
          security: [{ bearer: [] }],
          params: idParams,
          body: {
            type: "object",
            properties: { tag: tagName },
            required: ["tag"],
            additionalProperties: false,
          },
          response: { 200: tagChangeSchema, ...notFound, ...errorResponses, ...bodyErrorResponses },
        },
      },
      async (request) =>
        answer(
          deps,
          "added",
          await applyTag(
            deps.database.db,
            { type, id: request.params.id, tag: request.body.tag, actor: actorOf(request) },
            deps.tagHooks,
          ),
        ),
    );

    app.delete<{ Params: { id: string; tag: string } }>(
      `/v1/${path}/:id/tags/:tag`,
      {
        config: { role: "editor" },
        schema: {
          operationId: `remove${title}Tag`,
          summary: `Remove a tag from one ${type} by hand: every claim on it goes, whatever its source`,
          tags,
          security: [{ bearer: [] }],
          params: {
            type: "object",
            properties: { id: entityId, tag: tagName },
            required: ["id", "tag"],
            additionalProperties: false,
          },
          response: { 200: tagChangeSchema, ...notFound, ...errorResponses },
        },
      },
      async (request) =>
        answer(
          deps,
          "removed",
          await removeTag(
            deps.database.db,
            { type, id: request.params.id, tag: request.params.tag, actor: actorOf(request) },
            deps.tagHooks,
          ),
        ),
    );

    app.get<{ Params: { id: string }; Querystring: { tag?: string; cursor?: string; limit?: number } }>(
      `/v1/${path}/:id/history`,
      {
        config: { role: "viewer" },
        schema: {
          operationId: `get${title}History`,
          summary: `A ${type}'s tag history, newest first: claims added and removed, suppressions, each explained`,
          tags,
          security: [{ bearer: [] }],
          params: idParams,
          querystring: {
            type: "object",
            properties: {
              tag: tagName,
              ...cursorQuery,
              limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
            },
            additionalProperties: false,
          },
          response: { 200: historySchema, ...notFound, ...errorResponses },
        },
      },
      async (request) =>
        historyOf(deps.database.db, {
          type,
          id: request.params.id,
          tag: request.query.tag,
          cursor: request.query.cursor,
          limit: request.query.limit,
          now: deps.clock(),
        }),
    );
  }

  app.get<{ Params: { id: string }; Querystring: { cursor?: string; limit?: number } }>(
    "/v1/accounts/:id/users",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "listAccountUsers",
        summary: "An account's users with their tags, a page at a time",
        tags: ["accounts"],
        security: [{ bearer: [] }],
        params: idParams,
        querystring: {
          type: "object",
          properties: { ...cursorQuery, limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 } },
          additionalProperties: false,
        },
        response: {
          200: usersPageSchema,
          ...notFoundResponse("no account with that id"),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      // An unknown account is a 404, not an empty page.
      if (!(await entityExists(deps.database.db, "account", request.params.id))) {
        throw entityNotFound("account", request.params.id);
      }
      return usersOfAccount(deps.database.db, {
        accountId: request.params.id,
        cursor: request.query.cursor,
        limit: request.query.limit,
      });
    },
  );
}
