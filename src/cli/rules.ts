import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import type { Database } from "../db/client.ts";
import { InputError } from "../errors/index.ts";
import { activityVocabulary } from "../facts/activities.ts";
import { formatProblems, loadRulesDir } from "../rules/load.ts";
import type { RuleProblem } from "../rules/problems.ts";
import type { LoadedRule } from "../rules/types.ts";
import { unseenNameWarnings } from "../rules/vocabulary.ts";
import {
  type RetireResult,
  retireRule,
  retireSummary,
  retireWarning,
  rulesToRetire,
} from "../runs/retire.ts";
import type { CliContext } from "./context.ts";
import { ExitCode } from "./exit.ts";
import { displayDir, table } from "./format.ts";

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function reportProblems(ctx: CliContext, problems: RuleProblem[], dir: string): never {
  ctx.stderr.write(`${formatProblems(problems)}\n`);
  ctx.stderr.write(
    `${plural(problems.length, "problem")} in ${displayDir(dir)}: fix ${problems.length === 1 ? "it" : "them"} and run \`signaltag rules validate\` again\n`,
  );
  throw new ExitCode(1);
}

export function registerRulesCommands(program: Command, ctx: CliContext): void {
  const rules = program
    .command("rules")
    .description("Rule files: validate and list them; retire a rule's leftover claims.");

  rules
    .command("validate")
    .description(
      "Check every rule file and report each problem with its file, JSON pointer and a suggestion.",
    )
    .argument("[dir]", "the rules directory (default: SIGNALTAG_RULES_DIR, ./rules)")
    .action(async (dirArg: string | undefined) => {
      const dir = path.resolve(dirArg ?? ctx.config.rulesDir);
      const { rules: loaded, problems } = await loadRulesDir(dir);
      if (problems.length > 0) reportProblems(ctx, problems, dir);
      ctx.stdout.write(`${plural(loaded.length, "rule")} valid in ${displayDir(dir)}\n`);
      // Checks against the data only warn: a rule is valid whatever the data holds today.
      const database = await databaseIfConfigured(ctx);
      if (!database) return;
      const warnings = unseenNameWarnings(loaded, await activityVocabulary(database.db));
      for (const w of warnings)
        ctx.stderr.write(`${formatProblems([{ ...w, message: `warning: ${w.message}` }])}\n`);
      await warnRulesToRetire(ctx, database, loaded);
    });

  rules
    .command("retire")
    .description(
      "Remove every claim a disabled or deleted rule still holds, with history; held by the removal guard unless --force.",
    )
    .argument("<id>", "the rule's id")
    .option("--dry-run", "say how many claims would go, and change nothing")
    .option("--force", "apply a retirement the removal guard would hold")
    .option("--json", "print the result as one JSON object")
    .action(async (id: string, opts: { dryRun?: boolean; force?: boolean; json?: boolean }) => {
      const { rules: loaded, problems } = await loadRulesDir(ctx.config.rulesDir);
      const file = loaded.find((r) => r.definition.id === id);
      if (!file && problems.length > 0) {
        throw new InputError(
          `the rules in ${displayDir(ctx.config.rulesDir)} do not validate, so whether rule ${id} still has an enabled file is unknown; fix them first (\`signaltag rules validate\`)`,
        );
      }
      const database = await ctx.database();
      const result = await retireRule(database.db, id, file, {
        asOf: new Date(),
        trigger: "manual",
        dryRun: opts.dryRun,
        force: opts.force,
        removalGuard: ctx.config.removalGuard,
      });
      if (opts.json) ctx.stdout.write(`${JSON.stringify(retireSummary(result))}\n`);
      else ctx.stdout.write(describeRetirement(result));
      if (result.status === "failed") throw new ExitCode(1);
    });

  rules
    .command("list")
    .description("List the rules with their target, tag, schedule and version.")
    .argument("[dir]", "the rules directory (default: SIGNALTAG_RULES_DIR, ./rules)")
    .option("--json", "one JSON object per rule, one per line")
    .action(async (dirArg: string | undefined, opts: { json?: boolean }) => {
      const dir = path.resolve(dirArg ?? ctx.config.rulesDir);
      const { rules: loaded, problems } = await loadRulesDir(dir);
      const rows = loaded.map(({ definition: d, version }) => ({
        id: d.id,
        target: d.target,
        tag: d.tag,
        enabled: d.enabled,
        schedule: d.schedule ? `${d.schedule.cron} ${d.schedule.timezone}` : "",
        version,
      }));
      if (opts.json) {
        for (const row of rows) ctx.stdout.write(`${JSON.stringify(row)}\n`);
      } else if (rows.length > 0) {
        const headers = ["id", "target", "tag", "enabled", "schedule", "version"] as const;
        ctx.stdout.write(
          table(
            [...headers],
            rows.map((r) => headers.map((h) => String(r[h]))),
          ),
        );
      } else if (problems.length === 0) {
        ctx.stdout.write(`no rules in ${displayDir(dir)}\n`);
      }
      if (problems.length > 0) reportProblems(ctx, problems, dir);
    });
}

/**
 * The database when one is configured (DATABASE_URL, or an embedded one that
 * exists) and answers; otherwise undefined, with a note when it did not answer.
 */
async function databaseIfConfigured(ctx: CliContext): Promise<Database | undefined> {
  if (!ctx.config.databaseUrl && !fs.existsSync(ctx.config.dataDir)) return undefined;
  try {
    return await ctx.database();
  } catch (err) {
    const reason = err instanceof Error ? err.message.split("\n")[0] : String(err);
    ctx.stderr.write(`note: the rules were not checked against the data (${reason})\n`);
    return undefined;
  }
}

/** One line on stderr per rule whose claims no run will update: disabled, or without a file. */
export async function warnRulesToRetire(
  ctx: CliContext,
  database: Database,
  files: readonly LoadedRule[],
  opts: { filesComplete: boolean } = { filesComplete: true },
): Promise<void> {
  for (const c of await rulesToRetire(database.db, files, opts)) ctx.stderr.write(`${retireWarning(c)}\n`);
}

function describeRetirement(r: RetireResult): string {
  const claims = plural(r.removed, "claim");
  const detail = r.groups
    .map((g) => {
      const keep = g.claims - g.losing;
      return `  "${g.tag}": ${plural(g.claims, g.entity_type)}, ${g.losing} lose the tag${keep ? `, ${keep} keep it from another source` : ""}\n`;
    })
    .join("");
  switch (r.status) {
    case "dry-run":
      return `dry run: retiring rule ${r.rule} would remove ${claims}; nothing was changed\n${detail}`;
    case "held":
      return `held: retiring rule ${r.rule} ${r.error}; nothing was changed (\`--dry-run\` shows what would go)\n${detail}`;
    case "failed":
      return `failed: retiring rule ${r.rule}: ${r.error}\n`;
    default:
      return r.removed === 0
        ? `rule ${r.rule} holds no claims: nothing to remove\n`
        : `retired rule ${r.rule}: removed ${claims} (run ${r.runId})\n${detail}`;
  }
}
