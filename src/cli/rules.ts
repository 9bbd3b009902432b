import path from "node:path";
import type { Command } from "commander";
import { formatProblems, loadRulesDir } from "../rules/load.ts";
import type { RuleProblem } from "../rules/problems.ts";
import type { CliContext } from "./context.ts";
import { ExitCode } from "./exit.ts";
import { table } from "./format.ts";

/** `rules/` for a directory below the working directory, else the path as given. */
function displayDir(dir: string): string {
  const relative = path.relative(process.cwd(), dir);
  if (relative === "") return "./";
  const shown = relative.startsWith("..") || path.isAbsolute(relative) ? dir : relative;
  return shown.endsWith(path.sep) ? shown : `${shown}${path.sep}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function reportProblems(ctx: CliContext, problems: RuleProblem[], dir: string): never {
  ctx.stderr.write(`${formatProblems(problems)}\n`);
  ctx.stderr.write(
    `${plural(problems.length, "problem")} in ${displayDir(dir)}: fix ${problems.length === 1 ? "it" : "them"} and run \`signaltag rules validate\` again\n`,
  );
  throw new ExitCode(1);
}

export function registerRulesCommands(program: Command, ctx: CliContext): void {
  const rules = program.command("rules").description("Rule files: validate and list them.");

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
