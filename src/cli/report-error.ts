import { databaseUnavailable } from "../db/connection-errors.ts";
import { ConfigError, isSignaltagError, MissingPrerequisiteError } from "../errors/index.ts";
import type { CliContext } from "./context.ts";
import { EXIT_PREREQUISITE } from "./exit.ts";

/**
 * The first line of what went wrong, from the error the driver raised rather
 * than drizzle's wrapper, whose message is the statement ("Failed query: ...").
 */
function summary(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.message.startsWith("Failed query:") && e.cause !== undefined) e = e.cause;
  const message = e instanceof Error ? e.message : String(e);
  return message.split("\n")[0] ?? message;
}

/** The stack of `err` and of each of its causes. */
function trace(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e !== undefined && depth < 8; depth++) {
    parts.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join("\ncaused by: ");
}

function databaseUrl(ctx: CliContext): string | undefined {
  try {
    return ctx.config.databaseUrl;
  } catch {
    return undefined;
  }
}

function debugLogging(ctx: CliContext): boolean {
  try {
    return ctx.config.logLevel === "debug" || ctx.config.logLevel === "trace";
  } catch {
    return false;
  }
}

/**
 * Prints a failed command's error on stderr and returns its exit code. An
 * expected condition is one line (what, where, what to do); an unexpected one
 * is one line and how to see its stack, which `--verbose` (or
 * SIGNALTAG_LOG_LEVEL=debug) prints.
 */
export function reportError(ctx: CliContext, err: unknown, verbose: boolean): number {
  const url = databaseUrl(ctx);
  const known = isSignaltagError(err) ? err : url ? databaseUnavailable(err, url) : undefined;
  const showTrace = verbose || debugLogging(ctx);
  if (known) {
    ctx.stderr.write(`signaltag: ${known.message}\n`);
    if (showTrace && known.cause !== undefined) ctx.stderr.write(`${trace(known.cause)}\n`);
    return known instanceof ConfigError || known instanceof MissingPrerequisiteError ? EXIT_PREREQUISITE : 1;
  }
  ctx.stderr.write(`signaltag: unexpected error: ${summary(err)}\n`);
  if (showTrace) ctx.stderr.write(`${trace(err)}\n`);
  else ctx.stderr.write("(rerun with --verbose, or SIGNALTAG_LOG_LEVEL=debug, to see the stack trace)\n");
  return 1;
}
