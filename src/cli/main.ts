import { Command, CommanderError } from "commander";
import { registerActivitiesCommand } from "./activities.ts";
import { type CliContext, createContext } from "./context.ts";
import { registerDbCommands } from "./db.ts";
import { registerDemoCommand } from "./demo.ts";
import { EXIT_PREREQUISITE, ExitCode } from "./exit.ts";
import { registerExplainCommands } from "./explain.ts";
import { registerExportCommands } from "./export.ts";
import { registerHistoryCommands } from "./history.ts";
import { registerImportCommands } from "./import.ts";
import { registerImportTagsCommand } from "./import-tags.ts";
import { registerKeysCommands } from "./keys.ts";
import { registerProfileCommands } from "./profile.ts";
import { reportError } from "./report-error.ts";
import { registerRulesCommands } from "./rules.ts";
import { registerRunCommands } from "./run.ts";
import { registerSeedCommand } from "./seed.ts";
import { registerSegmentCommands } from "./segment.ts";
import { registerServeCommand } from "./serve.ts";
import { registerTagCommands } from "./tag.ts";
import { registerTagsCommands } from "./tags.ts";
import { registerWebhooksCommands } from "./webhooks.ts";
import { registerQueueCommands } from "./worker.ts";

type CommandRegistrar = (program: Command, ctx: CliContext) => void;

const registrars: CommandRegistrar[] = [
  registerDemoCommand,
  registerDbCommands,
  registerImportCommands,
  registerImportTagsCommand,
  registerRulesCommands,
  registerActivitiesCommand,
  registerRunCommands,
  registerExplainCommands,
  registerExportCommands,
  registerSeedCommand,
  registerTagCommands,
  registerTagsCommands,
  registerSegmentCommands,
  registerProfileCommands,
  registerHistoryCommands,
  registerKeysCommands,
  registerServeCommand,
  registerQueueCommands,
  registerWebhooksCommands,
];

function buildProgram(ctx: CliContext): Command {
  const program = new Command("signaltag")
    .description("Tag customer accounts and users from their usage signals.")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .option("--verbose", "on an unexpected error, print its stack trace")
    .exitOverride();
  for (const register of registrars) register(program, ctx);
  // Subcommands report their own usage errors the same way as the root.
  const configure = (cmd: Command) => {
    cmd.exitOverride().configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    });
    cmd.commands.forEach(configure);
  };
  program.commands.forEach(configure);
  program.helpInformation = () => rootHelp(program);
  return program;
}

/** Every runnable command, one line each, so `signaltag --help` shows the whole surface at once. */
function rootHelp(program: Command): string {
  const lines: [string, string][] = [];
  const walk = (cmd: Command, prefix: string) => {
    for (const sub of cmd.commands) {
      const name = `${prefix}${sub.name()}`;
      if (sub.commands.length > 0) walk(sub, `${name} `);
      else {
        const args = sub.registeredArguments
          .map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`))
          .join(" ");
        lines.push([`${name}${args ? ` ${args}` : ""}`, sub.description()]);
      }
    }
  };
  walk(program, "");
  const width = Math.max(...lines.map(([usage]) => usage.length));
  return [
    "Usage: signaltag <command> [options]",
    "",
    program.description(),
    "",
    "Commands:",
    ...lines.map(([usage, desc]) => `  ${usage.padEnd(width)}  ${desc}`),
    "",
    "Global options:",
    "  --verbose  on an unexpected error, print its stack trace (as SIGNALTAG_LOG_LEVEL=debug does)",
    "",
    "Run `signaltag <command> --help` for a command's options.",
    "",
  ].join("\n");
}

/**
 * Runs one signaltag command and returns its exit code: 0 on success, 1 when
 * the command failed, 2 for a usage error or a missing prerequisite, 3 when
 * the removal guard held a run.
 */
export async function main(argv: string[], ctx: CliContext = createContext()): Promise<number> {
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0) {
        return 0;
      }
      return EXIT_PREREQUISITE;
    }
    if (err instanceof ExitCode) return err.code;
    const verbose = program.opts<{ verbose?: boolean }>().verbose === true;
    return reportError(ctx, err, verbose);
  } finally {
    await ctx.close();
  }
}

export { ExitCode };
