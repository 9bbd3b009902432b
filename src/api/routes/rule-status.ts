import type { FastifyInstance } from "fastify";
import { collectStatus } from "../../jobs/status.ts";
import { loadRulesDir } from "../../rules/load.ts";
import { ruleInWords } from "../../runs/rule-words.ts";
import { recentRuns } from "../../runs/sql/recent-runs.ts";
import type { ApiDeps } from "../deps.ts";
import { errorResponses, openArray, openObject } from "../schemas.ts";

/** The rules page: each rule's file, status and words, and the runs recorded. */
export function registerRuleStatusRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    "/v1/rules",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "listRules",
        summary:
          "Every rule file: its definition, its conditions in words, enabled, schedule, last run, next run (with a queue) and whether it is stale; and the files' problems",
        tags: ["rules"],
        security: [{ bearer: [] }],
        response: {
          200: openObject("the rules and the problems of files that do not validate", {
            rules: openArray(
              "status fields (rule, tag, target, enabled, schedule, lastRun, nextRunAt, stale, staleReason), definition, words",
            ),
            problems: openArray("file, pointer and message of each problem"),
          }),
          ...errorResponses,
        },
      },
    },
    async () => {
      const { rules, problems } = await loadRulesDir(deps.config.rulesDir);
      const status = await collectStatus(deps.database.db, rules, deps.queues, deps.clock());
      const byId = new Map(rules.map((r) => [r.definition.id, r]));
      return {
        rules: status.rules.map((s) => {
          const def = byId.get(s.rule)!.definition;
          return {
            ...s,
            name: def.name,
            description: def.description,
            definition: def,
            words: ruleInWords(def),
          };
        }),
        problems,
      };
    },
  );

  app.get<{ Querystring: { status?: string; rule?: string; limit?: number } }>(
    "/v1/runs",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "listRuns",
        summary:
          "Recorded rule runs, newest first: all, or those of one status (held: stopped by the removal guard) or rule",
        tags: ["runs"],
        security: [{ bearer: [] }],
        querystring: {
          type: "object",
          properties: {
            status: { type: "string", enum: ["running", "applied", "held", "dry-run", "failed"] },
            rule: { type: "string", minLength: 1, maxLength: 200 },
            limit: { type: "integer", minimum: 1, maximum: 500, default: 50 },
          },
          additionalProperties: false,
        },
        response: {
          200: openObject("runs, newest first", {
            runs: openArray(
              "id, ruleId, status, trigger, forced, asOf, startedAt, durationMs, evaluated, added, removed, error (a held run's reason)",
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => ({
      runs: await recentRuns(deps.database.db, {
        status: request.query.status,
        ruleId: request.query.rule,
        limit: request.query.limit ?? 50,
      }),
    }),
  );
}
