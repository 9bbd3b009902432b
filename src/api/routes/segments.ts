import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { InputError } from "../../errors/index.ts";
import type { EntityType } from "../../facts/catalog.ts";
import { parseInstant } from "../../facts/time.ts";
import { bulkTagSegment } from "../../segments/bulk.ts";
import { csvHeader, csvLines } from "../../segments/export.ts";
import {
  DEFAULT_PAGE,
  MAX_PAGE,
  type SegmentQuery,
  segmentAllRows,
  segmentPage,
} from "../../segments/query.ts";
import { actorOf } from "../auth.ts";
import type { ApiDeps } from "../deps.ts";
import { bodyErrorResponses, collections, cursorQuery, errorResponses, tagName } from "../schemas.ts";
import { bulkResultSchema, recordBulk } from "./bulk.ts";

const tagList = { type: "array", items: tagName, maxItems: 100 } as const;

const segmentFields = {
  taggedWith: { ...tagList, description: '"Tagged with": one or several tags (repeat the parameter)' },
  notTagged: { ...tagList, description: '"Is not tagged": one or several tags' },
  match: {
    type: "string",
    enum: ["all", "any"],
    default: "all",
    description: "all: every tag test holds; any: at least one does",
  },
} as const;

const pageSchema = {
  type: "object",
  description: "a page of the segment's rows, in id order, with the segment's count",
  properties: {
    entityType: { type: "string" },
    count: { type: "integer", description: "entities in the segment, over all pages" },
    rows: { type: "array", items: { type: "object", additionalProperties: true } },
    nextCursor: { type: ["string", "null"] },
    unknownTags: { type: "array", items: { type: "string" } },
  },
} as const;

interface SegmentParams {
  taggedWith?: string[];
  notTagged?: string[];
  match?: "all" | "any";
}

function parseAsOf(value: string | undefined, field: string, deps: ApiDeps): Date {
  if (value === undefined) return deps.clock();
  const instant = parseInstant(value);
  if (!instant)
    throw new InputError(`${field} ${JSON.stringify(value)} is not an ISO-8601 instant`, {
      details: { field },
    });
  return instant;
}

function parseConditionsParam(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new InputError(`query.conditions is not valid JSON: ${(err as Error).message}`, {
      details: { field: "query.conditions" },
    });
  }
}

function segmentQuery(
  type: EntityType,
  p: SegmentParams,
  conditions: unknown,
  budgetMs: number | undefined,
): SegmentQuery {
  return { type, taggedWith: p.taggedWith, notTagged: p.notTagged, match: p.match, conditions, budgetMs };
}

export function registerSegmentRoutes(app: FastifyInstance, deps: ApiDeps): void {
  for (const { path, type, title } of collections) {
    app.get<{
      Querystring: SegmentParams & {
        conditions?: string;
        cursor?: string;
        limit?: number;
        count?: boolean;
        asOf?: string;
        format?: "json" | "csv";
      };
    }>(
      `/v1/segments/${path}`,
      {
        config: { role: "viewer" },
        schema: {
          operationId: `get${title}Segment`,
          summary: `The ${path} "Tagged with" / "Is not tagged" some tags, optionally matching conditions: count and keyset-paginated rows, or every row as CSV (format=csv)`,
          tags: ["segments"],
          security: [{ bearer: [] }],
          querystring: {
            type: "object",
            properties: {
              ...segmentFields,
              conditions: {
                type: "string",
                description: 'conditions in the rule condition format, as JSON: {"all":[{"fact":...}]}',
              },
              ...cursorQuery,
              limit: { type: "integer", minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE },
              count: { type: "boolean", default: true, description: "include the segment's count" },
              asOf: {
                type: "string",
                description: "evaluate conditions as of this ISO-8601 instant (default now)",
              },
              format: { type: "string", enum: ["json", "csv"], default: "json" },
            },
            additionalProperties: false,
          },
          response: {
            200: {
              description: "a page of rows as JSON, or with format=csv every row as a CSV file",
              content: {
                "application/json": { schema: pageSchema },
                "text/csv": { schema: { type: "string" } },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (request, reply) => {
        const q = request.query;
        const query = segmentQuery(type, q, parseConditionsParam(q.conditions), deps.config.segmentBudgetMs);
        const clock = { asOf: parseAsOf(q.asOf, "query.asOf", deps), timezone: deps.config.timezone };
        if (q.format === "csv") {
          if (q.cursor !== undefined) {
            throw new InputError("query.cursor does not apply to format=csv, which returns every row", {
              details: { field: "query.cursor" },
            });
          }
          // Validate before the first byte is sent: errors after that cannot change the status.
          const rows = segmentAllRows(deps.database.db, query, clock);
          const first = await rows.next();
          async function* lines() {
            yield csvHeader(type);
            if (!first.done) yield csvLines(type, first.value);
            for await (const batch of rows) yield csvLines(type, batch);
          }
          return reply
            .type("text/csv; charset=utf-8")
            .header("content-disposition", `attachment; filename="segment-${path}.csv"`)
            .send(Readable.from(lines()));
        }
        return segmentPage(deps.database.db, query, {
          ...clock,
          cursor: q.cursor,
          limit: q.limit,
          count: q.count,
        });
      },
    );

    app.post<{
      Body: SegmentParams & {
        conditions?: unknown;
        cursor?: string;
        limit?: number;
        count?: boolean;
        asOf?: string;
      };
    }>(
      `/v1/segments/${path}/query`,
      {
        config: { role: "viewer" },
        schema: {
          operationId: `query${title}Segment`,
          summary: `The same segment query with a JSON body, for conditions too long for a URL`,
          tags: ["segments"],
          security: [{ bearer: [] }],
          body: {
            type: "object",
            properties: {
              ...segmentFields,
              conditions: { type: "object", description: "conditions in the rule condition format" },
              ...cursorQuery,
              limit: { type: "integer", minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE },
              count: { type: "boolean", default: true },
              asOf: { type: "string" },
            },
            additionalProperties: false,
          },
          response: { 200: pageSchema, ...errorResponses, ...bodyErrorResponses },
        },
      },
      async (request) => {
        const b = request.body;
        return segmentPage(
          deps.database.db,
          segmentQuery(type, b, b.conditions, deps.config.segmentBudgetMs),
          {
            asOf: parseAsOf(b.asOf, "body.asOf", deps),
            timezone: deps.config.timezone,
            cursor: b.cursor,
            limit: b.limit,
            count: b.count,
          },
        );
      },
    );

    app.post<{
      Body: SegmentParams & { action: "add" | "remove"; tag: string; conditions?: unknown; asOf?: string };
    }>(
      `/v1/segments/${path}/tags`,
      {
        config: { role: "admin" },
        schema: {
          operationId: `tag${title}Segment`,
          summary: `Add or remove a tag on every ${type} of a segment (one transaction, as a bulk request)`,
          tags: ["segments", "bulk"],
          security: [{ bearer: [] }],
          body: {
            type: "object",
            properties: {
              action: { type: "string", enum: ["add", "remove"] },
              tag: tagName,
              ...segmentFields,
              conditions: { type: "object", description: "conditions in the rule condition format" },
              asOf: { type: "string" },
            },
            required: ["action", "tag"],
            additionalProperties: false,
          },
          response: { 200: bulkResultSchema, ...errorResponses, ...bodyErrorResponses },
        },
      },
      async (request) => {
        const b = request.body;
        const started = performance.now();
        const result = await bulkTagSegment(
          deps.database.db,
          segmentQuery(type, b, b.conditions, deps.config.segmentBudgetMs),
          {
            asOf: parseAsOf(b.asOf, "body.asOf", deps),
            timezone: deps.config.timezone,
            action: b.action,
            tag: b.tag,
            actor: actorOf(request),
          },
          deps.tagHooks,
        );
        recordBulk(deps, result, started);
        return result;
      },
    );
  }
}
