import type { Command } from "commander";
import { InputError } from "../errors/index.ts";
import { parseInstant } from "../facts/time.ts";
import { conditionLines, resultInWords, ruleLabel } from "../runs/explanation-words.ts";
import type { RunResult } from "../runs/run-result.ts";
import { loadValidRules, runConcurrency, runRules, selectRules } from "../runs/runner.ts";
import type { CliContext } from "./context.ts";
import { EXIT_HELD, ExitCode } from "./exit.ts";
import { displayDir, progressBar, table } from "./format.ts";
import { warnRulesToRetire } from "./rules.ts";
import { DiffFile } from "./run-diff.ts";

export function parseAsOf(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const instant = parseInstant(value);
  if (!instant)
    throw new InputError(
      `--as-of ${JSON.stringify(value)} is not an ISO-8601 instant such as 2026-01-31T12:00:00Z`,
    );
  return instant;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerRunCommands(program: Command, ctx: CliContext): void {
  program
    .command("run")
    .description("Evaluate rules now (or as of an instant) and reconcile their tags.")
    .option("--rule <id>", "run only this rule (repeatable)", collect, [])
    .option("--as-of <instant>", "evaluate as of this ISO-8601 instant instead of now")
    .option("--dry-run", "show what would change, with sample explanations, and write nothing")
    .option("--samples <n>", "with --dry-run: how many sample entities to show each way (default 10)")
    .option(
      "--diff <file>",
      "with --dry-run: write every would-add and would-remove to FILE as CSV (entity_type,entity_id,tag,change,explanation)",
    )
    .option("--force", "apply a run even when it would remove more claims than the guard allows")
    .option(
      "--full",
      "evaluate every entity, even where the rule's last run today allows evaluating only what changed since",
    )
    .option("--json", "print one JSON object per rule")
    .action(
      async (opts: {
        rule: string[];
        asOf?: string;
        dryRun?: boolean;
        samples?: string;
        diff?: string;
        force?: boolean;
        full?: boolean;
        json?: boolean;
      }) => {
        const asOf = parseAsOf(opts.asOf) ?? new Date();
        const samples = parseSamples(opts.samples);
        if (!opts.dryRun && (opts.diff !== undefined || samples !== undefined)) {
          throw new InputError(
            `${opts.diff !== undefined ? "--diff" : "--samples"} previews a run: use it with --dry-run`,
          );
        }
        const all = await loadValidRules(ctx.config.rulesDir);
        const selected = selectRules(all, opts.rule);
        const database = await ctx.database();
        const diff = opts.diff === undefined ? undefined : await DiffFile.create(opts.diff);
        const bar = progressBar(ctx.stderr, "");
        let current = "";
        const results = await runRules(database.db, all, selected, {
          asOf,
          timezone: ctx.config.timezone,
          trigger: "manual",
          dryRun: opts.dryRun,
          force: opts.force,
          incremental: !opts.full,
          removalGuard: ctx.config.removalGuard,
          ...(samples === undefined ? {} : { samples }),
          ...(diff ? { onDiff: diff.onDiff } : {}),
          // One diff file is written by one rule at a time.
          concurrency: diff ? 1 : runConcurrency(database, ctx.config.runConcurrency),
          onRuleStart: (rule) => {
            bar.stop();
            current = rule.definition.id;
          },
          onProgress: (done, total) => {
            if (current) bar.update(done, total);
          },
        }).finally(() => diff?.close());
        bar.stop();
        await warnRulesToRetire(ctx, database, all);
        if (opts.json) {
          for (const r of results) ctx.stdout.write(`${JSON.stringify(toJson(r))}\n`);
        } else {
          printRunTable(ctx, results, asOf);
          if (opts.dryRun) printSamples(ctx, results);
          if (diff) {
            const changes = results.reduce((n, r) => n + r.added + r.removed, 0);
            ctx.stdout.write(`\nwrote ${changes} change${changes === 1 ? "" : "s"} to ${diff.path}\n`);
          }
        }
        exitForRuns(results);
      },
    );
}

/** `--samples N`: a whole number of at least 0. */
function parseSamples(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InputError(`--samples must be a whole number of at least 0, not ${JSON.stringify(value)}`);
  }
  return n;
}

/** A failed run fails the command (1); a held one, reported above, exits with its own code for scripts. */
export function exitForRuns(results: RunResult[]): void {
  if (results.some((r) => r.status === "failed")) throw new ExitCode(1);
  if (results.some((r) => r.status === "held")) throw new ExitCode(EXIT_HELD);
}

export function toJson(r: RunResult) {
  return {
    rule: r.rule,
    ...(r.name === undefined ? {} : { name: r.name }),
    tag: r.tag,
    target: r.target,
    version: r.version,
    status: r.status,
    evaluated: r.evaluated,
    matched: r.matched,
    added: r.added,
    removed: r.removed,
    claimsBefore: r.claimsBefore,
    ...(r.incrementalSince === undefined ? {} : { incrementalSince: r.incrementalSince }),
    durationMs: r.durationMs,
    ...(r.runId === undefined ? {} : { runId: r.runId }),
    ...(r.error ? { error: r.error } : {}),
    ...(r.wouldBeHeld ? { wouldBeHeld: r.wouldBeHeld } : {}),
    ...(r.samples ? { samples: resultInWords(r).samples } : {}),
  };
}

export function printRunTable(ctx: CliContext, results: RunResult[], asOf: Date): void {
  ctx.stdout.write(`as of ${asOf.toISOString()} (${ctx.config.timezone})\n`);
  if (results.length === 0) {
    ctx.stdout.write(`no enabled rules to run in ${displayDir(ctx.config.rulesDir)} (SIGNALTAG_RULES_DIR)\n`);
    return;
  }
  ctx.stdout.write(
    table(
      ["rule", "tag", "status", "evaluated", "matched", "added", "removed", "ms"],
      results.map((r) => [
        r.rule,
        r.tag,
        r.status,
        // An incremental run evaluated only the entities that changed since its last run.
        r.incrementalSince === undefined ? r.evaluated : `${r.evaluated} changed`,
        r.matched,
        `+${r.added}`,
        `-${r.removed}`,
        r.durationMs,
      ]),
    ),
  );
  for (const r of results) {
    if (r.status === "held") ctx.stdout.write(`held: ${r.rule} ${r.error}\n`);
    if (r.wouldBeHeld) ctx.stdout.write(`would be held: ${r.rule} ${r.wouldBeHeld}\n`);
    if (r.status === "failed") ctx.stdout.write(`failed: ${r.rule}: ${r.error}\n`);
  }
}

function printSamples(ctx: CliContext, results: RunResult[]): void {
  for (const r of results) {
    if (!r.samples) continue;
    for (const [label, list] of [
      ["would add", r.samples.added],
      ["would remove", r.samples.removed],
    ] as const) {
      if (list.length === 0) continue;
      const rule = r.name === undefined ? r.rule : ruleLabel({ id: r.rule, name: r.name });
      ctx.stdout.write(
        `\n${rule}: ${label} "${r.tag}" (${list.length} of ${label === "would add" ? r.added : r.removed} shown)\n`,
      );
      for (const s of list) {
        ctx.stdout.write(`  ${r.target} ${s.entityId}\n`);
        if (s.explanation.reason) ctx.stdout.write(`    ${s.explanation.reason}\n`);
        if (s.explanation.conditions) {
          for (const line of conditionLines(s.explanation.conditions, "    ")) ctx.stdout.write(`${line}\n`);
        }
      }
    }
  }
}
