import type { FastifyInstance } from "fastify";
import { type BulkAction, type BulkResult, bulkTag, MAX_BULK_IDS } from "../../tags/bulk.ts";
import { importTagsFile } from "../../tags/file-import.ts";
import { actorOf } from "../auth.ts";
import type { ApiDeps } from "../deps.ts";
import { bodyErrorResponses, errorResponses, openObject, tagName } from "../schemas.ts";

/** Big enough for 100,000 long ids; anything larger is refused with 413 before it is parsed. */
const BULK_BODY_LIMIT = 32 * 1024 * 1024;

export const bulkResultSchema = {
  type: "object",
  description: "how many entities were asked for and how many changed",
  properties: {
    action: { type: "string" },
    entityType: { type: "string" },
    tag: { type: "string" },
    requested: { type: "integer", description: "distinct ids" },
    claimsChanged: { type: "integer" },
    membershipsChanged: { type: "integer", description: "entities that gained or lost the tag" },
    unchanged: { type: "integer" },
    unknownTags: { type: "array", items: { type: "string" } },
  },
} as const;

interface BulkBody {
  action: BulkAction;
  entityType: "account" | "user";
  tag: string;
  ids: string[];
}

export function recordBulk(deps: ApiDeps, r: BulkResult, started: number): void {
  // A bulk removal takes claims of every source; its count is recorded as "bulk".
  const counter = r.action === "add" ? deps.metrics.claimsAdded : deps.metrics.claimsRemoved;
  counter.inc({ source: "bulk" }, r.claimsChanged);
  deps.metrics.jobDuration.observe({ kind: "bulk", status: "applied" }, (performance.now() - started) / 1000);
}

export function registerBulkRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Body: BulkBody }>(
    "/v1/tags/bulk",
    {
      config: { role: "admin" },
      bodyLimit: BULK_BODY_LIMIT,
      schema: {
        operationId: "bulkTag",
        summary: `Add or remove one tag on up to ${MAX_BULK_IDS.toLocaleString("en-US")} entities in one transaction; an unknown id refuses the whole request and is listed`,
        tags: ["bulk"],
        security: [{ bearer: [] }],
        body: {
          type: "object",
          properties: {
            action: { type: "string", enum: ["add", "remove"] },
            entityType: { type: "string", enum: ["account", "user"] },
            tag: tagName,
            ids: {
              type: "array",
              minItems: 1,
              maxItems: MAX_BULK_IDS,
              items: { type: "string", minLength: 1 },
            },
          },
          required: ["action", "entityType", "tag", "ids"],
          additionalProperties: false,
        },
        response: { 200: bulkResultSchema, ...errorResponses, ...bodyErrorResponses },
      },
    },
    async (request) => {
      const started = performance.now();
      const result = await bulkTag(
        deps.database.db,
        {
          action: request.body.action,
          type: request.body.entityType,
          tag: request.body.tag,
          ids: request.body.ids,
          actor: actorOf(request),
        },
        deps.tagHooks,
      );
      recordBulk(deps, result, started);
      return result;
    },
  );

  app.register(async (scope) => {
    scope.addContentTypeParser(
      ["text/csv", "text/plain", "application/csv"],
      { parseAs: "string", bodyLimit: BULK_BODY_LIMIT },
      (_request, body, done) => done(null, body),
    );
    scope.post<{ Body: string; Querystring: { dryRun?: boolean; skipInvalid?: boolean; name?: string } }>(
      "/v1/imports/tags",
      {
        config: { role: "admin" },
        bodyLimit: BULK_BODY_LIMIT,
        schema: {
          operationId: "importTagsFile",
          summary:
            "Upload a tags file (text/csv: account_id or user_id, then tag##<name> columns; yes/true adds, no/false removes every claim, blank leaves). dryRun=true reports what would be added and removed and the unknown ids, writing nothing",
          tags: ["bulk"],
          security: [{ bearer: [] }],
          consumes: ["text/csv"],
          body: { type: "string", description: "the CSV file" },
          querystring: {
            type: "object",
            properties: {
              dryRun: { type: "boolean", default: false },
              skipInvalid: {
                type: "boolean",
                default: false,
                description: "apply the good rows, report the rest",
              },
              name: { type: "string", maxLength: 200, description: "the file's name, for history" },
            },
            additionalProperties: false,
          },
          response: {
            200: openObject(
              "source, dryRun, rows read and applied, the claims added and removed (or that would be, on a dry run), unknownIds, and the problems of refused rows with their line numbers",
            ),
            ...errorResponses,
            ...bodyErrorResponses,
          },
        },
      },
      async (request) => {
        const started = performance.now();
        const result = await importTagsFile(
          deps.database.db,
          request.body,
          {
            source: request.query.name ?? "upload",
            actor: actorOf(request),
            dryRun: request.query.dryRun,
            skipInvalid: request.query.skipInvalid,
          },
          deps.tagHooks,
        );
        if (!result.dryRun) {
          deps.metrics.claimsAdded.inc({ source: "file" }, result.addedCount);
          deps.metrics.countClaims(
            "removed",
            result.removed.map((c) => c.source),
          );
          deps.metrics.jobDuration.observe(
            { kind: "file", status: "applied" },
            (performance.now() - started) / 1000,
          );
        }
        return result;
      },
    );
  });
}
