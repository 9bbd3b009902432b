import type { Command } from "commander";
import { sql } from "drizzle-orm";
import { entityClaims } from "../claims/sql/tags.ts";
import { rows } from "../db/client.ts";
import { InputError, NotFoundError } from "../errors/index.ts";
import type { EntityType } from "../facts/catalog.ts";
import { computeFacts } from "../facts/compute.ts";
import { createdColumn, entityTable } from "../facts/sql/entities.ts";
import { loadEntityBatch } from "../facts/sql/entity-batch.ts";
import { calendarDate } from "../facts/time.ts";
import { claimedAfter, decide } from "../runs/decide.ts";
import { describeConditions, RuleEvaluator } from "../runs/evaluate.ts";
import { loadValidRules } from "../runs/runner.ts";
import type { CliContext } from "./context.ts";
import { parseAsOf } from "./run.ts";

export function parseEntityType(value: string): EntityType {
  if (value === "user" || value === "account") return value;
  throw new InputError(`entity type must be user or account, not ${JSON.stringify(value)}`);
}

export function registerExplainCommands(program: Command, ctx: CliContext): void {
  program
    .command("explain")
    .description("Show why an entity has or lacks each rule's tag, and every claim it holds.")
    .argument("<type>", "user or account")
    .argument("<id>", "the entity's id")
    .option("--as-of <instant>", "evaluate as of this ISO-8601 instant instead of now")
    .option("--json", "print the explanation as JSON")
    .action(async (typeArg: string, id: string, opts: { asOf?: string; json?: boolean }) => {
      const type = parseEntityType(typeArg);
      const asOf = parseAsOf(opts.asOf) ?? new Date();
      const rules = (await loadValidRules(ctx.config.rulesDir)).filter((r) => r.definition.target === type);
      const database = await ctx.database();
      const db = database.db;
      const table = entityTable(type);
      const createdCol = createdColumn(type);
      const [entity] = await rows<{ id: string; created: string }>(
        db,
        sql`select id, ${createdCol}::text as created from ${table} where id = ${id}`,
      );
      if (!entity) throw new NotFoundError(`no ${type} with id ${JSON.stringify(id)}`);
      const today = calendarDate(asOf, ctx.config.timezone);
      const claims = await entityClaims(db, type, id);
      const out: {
        entity: { type: EntityType; id: string };
        asOf: string;
        today: string;
        existed: boolean;
        rules: unknown[];
        tags: { name: string; claims: { source: string; actor: string | null; since: string }[] }[];
      } = { entity: { type, id }, asOf: asOf.toISOString(), today, existed: true, rules: [], tags: [] };
      for (const c of claims) {
        let tag = out.tags.find((t) => t.name === c.tag);
        if (!tag) {
          tag = { name: c.tag, claims: [] };
          out.tags.push(tag);
        }
        tag.claims.push({ source: c.source, actor: c.actor, since: c.since });
      }
      for (const rule of rules) {
        const evaluator = new RuleEvaluator(rule);
        const [input] = await loadEntityBatch(
          db,
          { type, asOf, today, timezone: ctx.config.timezone, requests: evaluator.requests },
          { ids: [id] },
        );
        if (!input) {
          out.existed = false;
          out.rules.push({
            rule: rule.definition.id,
            tag: rule.definition.tag,
            matched: false,
            reason: "created after the as-of instant",
          });
          continue;
        }
        const evaluation = await evaluator.evaluate(computeFacts(input, evaluator.requests, today));
        const claimed = claims.some((c) => c.source === `rule:${rule.definition.id}`);
        out.rules.push({
          rule: rule.definition.id,
          tag: rule.definition.tag,
          enabled: rule.definition.enabled,
          matched: evaluation.matched,
          ...(evaluation.exitMatched === undefined ? {} : { exitMatched: evaluation.exitMatched }),
          wouldHaveTag: claimedAfter(
            decide({
              matched: evaluation.matched,
              exitMatched: evaluation.exitMatched,
              held: claimed,
              suppressed: false,
            }),
          ),
          conditions: evaluation.conditions,
          ...(evaluation.exitConditions ? { exitConditions: evaluation.exitConditions } : {}),
        });
      }
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      ctx.stdout.write(`${type} ${id} as of ${out.asOf} (today ${today} in ${ctx.config.timezone})\n`);
      if (!out.existed) ctx.stdout.write(`created after the as-of instant: no rule evaluates it then\n`);
      for (const r of out.rules as Record<string, unknown>[]) {
        ctx.stdout.write(`\nrule ${r.rule} -> "${r.tag}": ${r.matched ? "matched" : "not matched"}`);
        if (r.exitMatched !== undefined)
          ctx.stdout.write(`, exit conditions ${r.exitMatched ? "matched" : "not matched"}`);
        if (r.enabled === false) ctx.stdout.write(" (rule disabled)");
        ctx.stdout.write("\n");
        if (r.conditions)
          for (const line of describeConditions(r.conditions as never, "  ")) ctx.stdout.write(`${line}\n`);
        if (r.exitConditions) {
          ctx.stdout.write("  exit conditions:\n");
          for (const line of describeConditions(r.exitConditions as never, "    "))
            ctx.stdout.write(`${line}\n`);
        }
      }
      ctx.stdout.write(`\ntags:${out.tags.length === 0 ? " none" : ""}\n`);
      for (const t of out.tags) {
        ctx.stdout.write(`  ${t.name}\n`);
        for (const c of t.claims)
          ctx.stdout.write(`    ${c.source}${c.actor ? ` by ${c.actor}` : ""} since ${c.since}\n`);
      }
    });
}
