import { type Config, loadConfig } from "../config.ts";
import { type Database, openDatabase } from "../db/client.ts";
import { ensureMigrated } from "../db/migrate.ts";
import { queueAfterChange } from "../jobs/after-changes.ts";
import type { TagHooks } from "../tags/changes.ts";
import { pipeOutput } from "./output.ts";

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  /** Resolves once a full buffer has room again (or its reader has gone). */
  drain?(): Promise<void>;
}

/**
 * What a command needs from the outside world. Tests build one around an
 * already-open database and capture the output.
 */
export interface CliContext {
  config: Config;
  stdout: Output;
  stderr: Output;
  /** Opens (and on first use creates) the database; the same one for the whole command. */
  database(opts?: { migrate?: "check" | "skip" }): Promise<Database>;
  /** What follows a tags change: with REDIS_URL, the entities' re-evaluation is queued and said so on stderr. */
  tagHooks: TagHooks;
  /** Closes what `database()` opened, unless it was handed in. */
  close(): Promise<void>;
}

export function createContext(
  opts: { config?: Config; stdout?: Output; stderr?: Output; database?: Database } = {},
): CliContext {
  let config: Config | undefined = opts.config;
  let opened: Promise<Database> | undefined;
  const given = opts.database;
  const ctx: CliContext = {
    get config() {
      config ??= loadConfig();
      return config;
    },
    stdout: opts.stdout ?? pipeOutput(process.stdout, "stop"),
    stderr: opts.stderr ?? pipeOutput(process.stderr, "drop"),
    database({ migrate = "check" } = {}) {
      if (given) return Promise.resolve(given);
      opened ??= (async () => {
        const database = await openDatabase(ctx.config);
        try {
          if (migrate === "check") await ensureMigrated(database);
        } catch (err) {
          await database.close();
          throw err;
        }
        return database;
      })();
      return opened;
    },
    tagHooks: {
      async entitiesChanged(event) {
        const queued = await queueAfterChange(ctx.config, event);
        if (queued) ctx.stderr.write(`${queued.note}\n`);
      },
    },
    async close() {
      if (opened) {
        const database = await opened.catch(() => undefined);
        opened = undefined;
        await database?.close();
      }
    },
  };
  return ctx;
}
