import type { FastifyInstance } from "fastify";
import { InputError } from "../../errors/index.ts";
import { parseInstant } from "../../facts/time.ts";
import { enqueueRun } from "../../jobs/enqueue-run.ts";
import { resultInWords } from "../../runs/explanation-words.ts";
import { loadValidRules, runConcurrency, runRules, selectRules } from "../../runs/runner.ts";
import type { ApiDeps } from "../deps.ts";
import { bodyErrorResponses, errorResponse, errorResponses, openArray, openObject } from "../schemas.ts";
import { diffResponse } from "./run-preview.ts";

interface RunBody {
  rules?: string[];
  asOf?: string;
  dryRun?: boolean;
  force?: boolean;
  full?: boolean;
  samples?: number;
  diff?: boolean;
}

export function registerRunRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Body: RunBody }>(
    "/v1/runs",
    {
      config: { role: "admin" },
      schema: {
        operationId: "runRules",
        summary:
          "Run rules now (all enabled rules, or the named ones): queued for the workers when Redis is configured (202), inline otherwise (200 with each rule's result). Dry runs are always inline",
        tags: ["runs"],
        security: [{ bearer: [] }],
        body: {
          type: "object",
          properties: {
            rules: { type: "array", items: { type: "string", minLength: 1 }, maxItems: 1000 },
            asOf: { type: "string", description: "evaluate as of this ISO-8601 instant (default now)" },
            dryRun: { type: "boolean", default: false },
            force: {
              type: "boolean",
              default: false,
              description: "apply a run the removal guard would hold",
            },
            full: {
              type: "boolean",
              default: false,
              description:
                "evaluate every entity, even where a rule's last run today allows evaluating only what changed since",
            },
            samples: {
              type: "integer",
              minimum: 0,
              maximum: 1000,
              description: "with dryRun: how many sample changes each result shows each way (default 10)",
            },
            diff: {
              type: "boolean",
              default: false,
              description:
                "with dryRun: answer with every would-add and would-remove ({ queued, asOf, diff: [{ entityType, entityId, tag, change, words, explanation }], results }), streamed; with Accept: text/csv, the same as CSV entity_type,entity_id,tag,change,explanation",
            },
          },
          additionalProperties: false,
        },
        response: {
          200: openObject("the run, inline: each rule's result", {
            queued: { type: "boolean", enum: [false] },
            asOf: { type: "string", format: "date-time" },
            results: openArray(
              "per rule: status (applied, held, dry-run, failed...), added, removed and, for a dry run, samples",
            ),
          }),
          202: openObject("the run, queued for the workers", {
            queued: { type: "boolean", enum: [true] },
            jobId: { type: "string" },
            deduplicated: { type: "boolean", description: "an identical run was already queued" },
            rules: { type: "array", items: { type: "string" } },
          }),
          ...errorResponses,
          ...bodyErrorResponses,
          503: errorResponse("the queue (Redis) could not be reached"),
        },
      },
    },
    async (request, reply) => {
      const b = request.body ?? {};
      let asOf = deps.clock();
      if (b.asOf !== undefined) {
        const parsed = parseInstant(b.asOf);
        if (!parsed) {
          throw new InputError(`body.asOf ${JSON.stringify(b.asOf)} is not an ISO-8601 instant`, {
            details: { field: "body.asOf" },
          });
        }
        asOf = parsed;
      }
      const csv = request.headers.accept?.includes("text/csv") === true;
      if ((b.diff || csv || b.samples !== undefined) && !b.dryRun) {
        throw new InputError(
          `${b.samples !== undefined && !b.diff && !csv ? "body.samples" : "a diff"} previews a run: set body.dryRun to true`,
          { details: { field: "body.dryRun" } },
        );
      }
      const all = await loadValidRules(deps.config.rulesDir);
      const selected = selectRules(all, b.rules ?? []);
      if (deps.queues && !b.dryRun) {
        const job = await enqueueRun(deps.queues, {
          ruleIds: b.rules ?? [],
          asOf: b.asOf === undefined ? undefined : asOf,
          force: b.force,
          full: b.full,
          trigger: "api",
        });
        deps.metrics.runs.inc({ status: "queued" });
        return reply.status(202).send({
          queued: true,
          jobId: job.effectiveId,
          deduplicated: job.deduplicated,
          rules: selected.map((r) => r.definition.id),
        });
      }
      const started = performance.now();
      const options = {
        asOf,
        timezone: deps.config.timezone,
        trigger: "api" as const,
        dryRun: b.dryRun,
        force: b.force,
        incremental: !b.full,
        removalGuard: deps.config.removalGuard,
        ...(b.samples === undefined ? {} : { samples: b.samples }),
        concurrency: runConcurrency(deps.database, deps.config.runConcurrency),
      };
      if (b.diff || csv) {
        // One rule at a time: each writes its changes into the one body.
        const body = diffResponse(csv ? "csv" : "json", asOf, (onDiff) =>
          runRules(deps.database.db, all, selected, { ...options, concurrency: 1, onDiff }),
        );
        return csv
          ? reply
              .type("text/csv; charset=utf-8")
              .header("content-disposition", 'attachment; filename="run-diff.csv"')
              .send(body)
          : reply.type("application/json; charset=utf-8").send(body);
      }
      const results = await runRules(deps.database.db, all, selected, options);
      for (const r of results) {
        deps.metrics.runs.inc({ status: r.status });
        deps.metrics.jobDuration.observe({ kind: "rule-run", status: r.status }, r.durationMs / 1000);
        if (r.status === "applied") {
          deps.metrics.claimsAdded.inc({ source: "rule" }, r.added);
          deps.metrics.claimsRemoved.inc({ source: "rule" }, r.removed);
        }
      }
      request.log.info({ ms: Math.round(performance.now() - started), rules: results.length }, "rules run");
      return { queued: false, asOf: asOf.toISOString(), results: results.map(resultInWords) };
    },
  );
}
