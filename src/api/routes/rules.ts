import type { FastifyInstance } from "fastify";
import { InputError } from "../../errors/index.ts";
import { activityVocabulary } from "../../facts/activities.ts";
import { loadRulesDir } from "../../rules/load.ts";
import { retireRule, retireSummary } from "../../runs/retire.ts";
import type { ApiDeps } from "../deps.ts";
import { errorResponses } from "../schemas.ts";

const seenName = {
  type: "object",
  properties: {
    name: { type: "string" },
    events: { type: "number", description: "events carrying the name" },
    lastSeen: { type: "string", format: "date", description: "the last calendar day an event carried it" },
  },
} as const;

export function registerRuleRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Params: { id: string }; Body: { dryRun?: boolean; force?: boolean } }>(
    "/v1/rules/:id/retire",
    {
      config: { role: "admin" },
      schema: {
        operationId: "retireRule",
        summary:
          "Retire a disabled or deleted rule: remove every claim it still holds, with history, as a run of the rule (held by the removal guard unless forced)",
        tags: ["runs"],
        security: [{ bearer: [] }],
        params: {
          type: "object",
          properties: { id: { type: "string", minLength: 1, maxLength: 200 } },
          required: ["id"],
          additionalProperties: false,
        },
        body: {
          type: "object",
          properties: {
            dryRun: { type: "boolean", default: false, description: "count what would go; change nothing" },
            force: {
              type: "boolean",
              default: false,
              description: "apply a retirement the guard would hold",
            },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            description: "the retirement's outcome: applied, held, dry-run or failed",
            type: "object",
            properties: {
              rule: { type: "string" },
              status: { type: "string", enum: ["applied", "held", "dry-run", "failed"] },
              removed: { type: "integer" },
              claimsBefore: { type: "integer" },
              runId: { type: "integer" },
              error: { type: "string" },
              tags: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    tag: { type: "string" },
                    entityType: { type: "string", enum: ["user", "account"] },
                    claims: { type: "integer" },
                    losing: { type: "integer", description: "entities no other source keeps the tag on" },
                  },
                },
              },
            },
          },
          404: { $ref: "error#", description: "no rule of that id has a file or ever ran" },
          409: { $ref: "error#", description: "the rule is still enabled in its file" },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const id = request.params.id;
      const { rules, problems } = await loadRulesDir(deps.config.rulesDir);
      const file = rules.find((r) => r.definition.id === id);
      if (!file && problems.length > 0) {
        throw new InputError(
          `the rule files do not validate, so whether rule ${id} still has an enabled file is unknown; fix them first`,
          { code: "rules_invalid", details: problems },
        );
      }
      const b = request.body ?? {};
      const r = await retireRule(deps.database.db, id, file, {
        asOf: deps.clock(),
        trigger: "api",
        dryRun: b.dryRun,
        force: b.force,
        removalGuard: deps.config.removalGuard,
      });
      if (r.status === "applied") deps.metrics.claimsRemoved.inc({ source: "rule" }, r.removed);
      return retireSummary(r);
    },
  );

  app.get(
    "/v1/activities",
    {
      config: { role: "viewer" },
      schema: {
        operationId: "listActivities",
        summary:
          "The activity and module names seen in the imported events, most frequent first, with event counts and the last day seen",
        tags: ["rules"],
        security: [{ bearer: [] }],
        response: {
          200: {
            description: "the data's vocabulary",
            type: "object",
            properties: {
              activities: { type: "array", items: seenName },
              modules: { type: "array", items: seenName },
            },
          },
          ...errorResponses,
        },
      },
    },
    async () => activityVocabulary(deps.database.db),
  );
}
