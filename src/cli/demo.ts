import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { createApiKey, listKeys, revokeKey } from "../keys/keys.ts";
import type { ExplainedCondition } from "../runs/evaluate.ts";
import { conditionLines } from "../runs/explanation-words.ts";
import { loadValidRules, runRules, selectRules } from "../runs/runner.ts";
import { seedWorkspace } from "../seed/seed-workspace.ts";
import { accountCount } from "../seed/sql/workspace.ts";
import { expandExplanations } from "../tags/sql/history.ts";
import { latestRuleExample } from "../tags/sql/rule-examples.ts";
import type { CliContext } from "./context.ts";
import { progressBar } from "./format.ts";
import { printRunTable } from "./run.ts";

const DEMO = { accounts: 40, users: 400, days: 60, seed: 1 };
const DEMO_KEY = "demo-admin";
const bundledRules = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../rules");

export function registerDemoCommand(program: Command, ctx: CliContext): void {
  program
    .command("demo")
    .description(
      "Seed a small workspace if it is empty, run the rules, and explain a few of the tags they set.",
    )
    .action(async () => {
      const database = await ctx.database();
      const db = database.db;
      const out = (s: string) => ctx.stdout.write(s);
      const asOf = new Date();
      out(
        `signaltag demo on the ${database.kind === "postgres" ? "Postgres database at DATABASE_URL" : `embedded database in ${ctx.config.dataDir}`}\n\n`,
      );

      const accounts = await accountCount(db);
      if (accounts === 0) {
        const seeded = await seedWorkspace(
          database,
          { ...DEMO, asOf, replace: false },
          { timezone: ctx.config.timezone },
        );
        out(
          `1. seeded a synthetic workspace: ${seeded.counts.accounts} accounts, ${seeded.counts.users} users, ` +
            `${seeded.counts.events} activity events over ${DEMO.days} days (signaltag seed)\n`,
        );
      } else {
        out(
          `1. the workspace already holds ${accounts} accounts; using it as it is (signaltag seed --replace starts over)\n`,
        );
      }

      // Run from elsewhere than a checkout, the demo still has the standard rules to show.
      const rulesDir = fs.existsSync(ctx.config.rulesDir) ? ctx.config.rulesDir : bundledRules;
      const all = await loadValidRules(rulesDir);
      out(`2. loaded ${all.length} rules from ${rulesDir} (signaltag rules validate)\n`);
      const bar = progressBar(ctx.stderr, "");
      const results = await runRules(db, all, selectRules(all, []), {
        asOf,
        timezone: ctx.config.timezone,
        trigger: "manual",
        removalGuard: ctx.config.removalGuard,
        onRuleStart: () => bar.stop(),
        onProgress: (done, total) => bar.update(done, total),
      });
      bar.stop();
      out(`3. ran them and reconciled their tags (signaltag run):\n\n`);
      printRunTable(ctx, results, asOf);

      out(`\n4. why some entities have their tags (signaltag explain):\n`);
      for (const r of results) {
        const example = await latestRuleExample(db, r.rule);
        if (!example) {
          out(`\n  ${r.rule}: no ${r.target} has "${r.tag}" right now\n`);
          continue;
        }
        out(`\n  ${r.target} ${example.entity_id} has "${r.tag}" (rule ${r.rule}):\n`);
        await expandExplanations(db, [example]);
        const conditions = example.explanation?.conditions as ExplainedCondition | undefined;
        if (conditions) {
          for (const line of conditionLines(conditions, "    ")) out(`${line}\n`);
        }
      }
      // The key is stored hashed, so a later demo cannot show the earlier one: it replaces it.
      const previous = (await listKeys(db)).find((k) => k.name === DEMO_KEY && !k.revokedAt);
      if (previous) await revokeKey(db, String(previous.id));
      const { key } = await createApiKey(db, { name: DEMO_KEY, role: "admin" });
      const host = ["0.0.0.0", "::", ""].includes(ctx.config.host) ? "localhost" : ctx.config.host;
      out(
        `\n5. the web console: run signaltag serve, open http://${host}:${ctx.config.port}/ and sign in with this admin key\n` +
          `   (named ${DEMO_KEY}; a later demo replaces it; signaltag keys create makes others):\n\n   ${key}\n`,
      );
      out(
        `\nNext: signaltag explain user <id>, signaltag export assignments, signaltag run --dry-run,\n` +
          `or edit a rule in ${rulesDir} and run again. signaltag --help lists every command.\n`,
      );
    });
}
