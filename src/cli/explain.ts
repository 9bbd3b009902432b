import type { Command } from "commander";
import { explainEntity } from "../runs/evaluate-entities.ts";
import { conditionLines, ruleLabel } from "../runs/explanation-words.ts";
import { loadValidRules } from "../runs/runner.ts";
import type { CliContext } from "./context.ts";
import { ENTITY_TYPE_ARGUMENT, parseEntityType } from "./entity-type.ts";
import { parseAsOf } from "./run.ts";

export function registerExplainCommands(program: Command, ctx: CliContext): void {
  program
    .command("explain")
    .description("Show why an entity has or lacks each rule's tag, and every claim it holds.")
    .argument("<type>", ENTITY_TYPE_ARGUMENT)
    .argument("<id>", "the entity's id")
    .option("--as-of <instant>", "evaluate as of this ISO-8601 instant instead of now")
    .option("--json", "print the explanation as JSON")
    .action(async (typeArg: string, id: string, opts: { asOf?: string; json?: boolean }) => {
      const type = parseEntityType(typeArg);
      const asOf = parseAsOf(opts.asOf) ?? new Date();
      const rules = await loadValidRules(ctx.config.rulesDir);
      const database = await ctx.database();
      const timezone = ctx.config.timezone;
      const out = await explainEntity(database.db, rules, { type, id }, { asOf, timezone });
      const today = out.today;
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      ctx.stdout.write(`${type} ${id} as of ${out.asOf} (today ${today} in ${timezone})\n`);
      if (!out.existed) ctx.stdout.write(`created after the as-of instant: no rule evaluates it then\n`);
      for (const r of out.rules) {
        ctx.stdout.write(
          `\nrule ${ruleLabel({ id: r.rule, name: r.name })} -> "${r.tag}": ${r.matched ? "matched" : "not matched"}`,
        );
        if ("reason" in r) {
          ctx.stdout.write("\n");
          continue;
        }
        if (r.exitMatched !== undefined)
          ctx.stdout.write(`, exit conditions ${r.exitMatched ? "matched" : "not matched"}`);
        if (r.enabled === false) ctx.stdout.write(" (rule disabled)");
        ctx.stdout.write("\n");
        for (const line of conditionLines(r.conditions, "  ")) ctx.stdout.write(`${line}\n`);
        if (r.exitConditions) {
          ctx.stdout.write("  exit conditions:\n");
          for (const line of conditionLines(r.exitConditions, "    ")) ctx.stdout.write(`${line}\n`);
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
