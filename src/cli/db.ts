import type { Command } from "commander";
import { migrate } from "../db/migrate.ts";
import type { CliContext } from "./context.ts";

export function registerDbCommands(program: Command, ctx: CliContext): void {
  const db = program.command("db").description("Database administration.");
  db.command("migrate")
    .description("Apply the committed migrations (creates the embedded database on first use).")
    .action(async () => {
      const database = await ctx.database({ migrate: "skip" });
      await migrate(database);
      ctx.stdout.write(
        `migrations applied (${database.kind === "postgres" ? "Postgres" : "embedded PGlite"})\n`,
      );
    });
}
