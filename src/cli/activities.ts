import type { Command } from "commander";
import { activityVocabulary, type SeenName } from "../facts/activities.ts";
import type { CliContext } from "./context.ts";
import { table } from "./format.ts";

export function registerActivitiesCommand(program: Command, ctx: CliContext): void {
  program
    .command("activities")
    .description(
      "The activity and module names seen in the imported events, with event counts and the last day seen.",
    )
    .option("--json", "print one JSON object: { activities: [...], modules: [...] }")
    .action(async (opts: { json?: boolean }) => {
      const database = await ctx.database();
      const seen = await activityVocabulary(database.db);
      if (opts.json) {
        ctx.stdout.write(`${JSON.stringify(seen)}\n`);
        return;
      }
      if (seen.activities.length === 0) {
        ctx.stdout.write("0 activities: no events imported yet (`signaltag import events FILE`)\n");
        return;
      }
      ctx.stdout.write(listing("activity", seen.activities));
      ctx.stdout.write("\n");
      ctx.stdout.write(
        seen.modules.length === 0 ? "0 modules: no event names a module\n" : listing("module", seen.modules),
      );
    });
}

function listing(what: "activity" | "module", names: SeenName[]): string {
  const count = `${names.length} ${what === "activity" ? (names.length === 1 ? "activity" : "activities") : names.length === 1 ? "module" : "modules"}`;
  return `${count}\n${table(
    [what, "events", "last seen"],
    names.map((n) => [n.name, n.events, n.lastSeen]),
  )}`;
}
