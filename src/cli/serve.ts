import type { Command } from "commander";
import { buildServer } from "../api/server.ts";
import { type Database, openPostgres } from "../db/client.ts";
import { ensureMigrated } from "../db/migrate.ts";
import { InputError } from "../errors/index.ts";
import { API_STATEMENT_TIMEOUT_MS } from "../limits.ts";
import { deliveryOptions } from "../webhooks/deliveries.ts";
import { startOutboxDrain } from "../webhooks/drain.ts";
import type { CliContext } from "./context.ts";

const SHUTDOWN_DEADLINE_MS = 10_000;
/** Postgres connections the server holds: each request that changes tags reserves one for its transaction. */
const DEFAULT_POOL = 20;

function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InputError(`--port must be a whole number from 0 to 65535, not ${JSON.stringify(value)}`);
  }
  return port;
}

export function registerServeCommand(program: Command, ctx: CliContext): void {
  program
    .command("serve")
    .description(
      "Serve the HTTP API (SIGNALTAG_PORT, default 3000; SIGNALTAG_HOST) until SIGTERM or SIGINT; docs at /docs.",
    )
    .option("--port <port>", "listen on this port instead of SIGNALTAG_PORT")
    .option("--host <host>", "listen on this address instead of SIGNALTAG_HOST")
    .option("--pool <n>", "Postgres connections to hold", String(DEFAULT_POOL))
    .action(async (opts: { port?: string; host?: string; pool: string }) => {
      const port = parsePort(opts.port, ctx.config.port);
      const host = opts.host ?? ctx.config.host;
      const pool = Number(opts.pool);
      if (!Number.isInteger(pool) || pool < 1 || pool > 500) {
        throw new InputError(`--pool must be a whole number from 1 to 500, not ${JSON.stringify(opts.pool)}`);
      }
      // The server opens Postgres itself for a pool of its size; the embedded database goes through the context.
      let own: Database | undefined;
      if (ctx.config.databaseUrl) {
        own = await openPostgres(ctx.config.databaseUrl, {
          max: pool,
          statementTimeoutMs: API_STATEMENT_TIMEOUT_MS,
        });
        try {
          await ensureMigrated(own);
        } catch (err) {
          await own.close();
          throw err;
        }
      }
      try {
        await serve(ctx, own ?? (await ctx.database()), port, host);
      } finally {
        await own?.close();
      }
    });
}

async function serve(ctx: CliContext, database: Database, port: number, host: string): Promise<void> {
  if (database.kind === "pglite") {
    ctx.stderr.write(
      "note: serving the embedded database, which serves one process at a time; set DATABASE_URL to a Postgres database for real use\n",
    );
  }
  const app = await buildServer({ database, config: ctx.config });
  const stopped = new Promise<string>((resolve) => {
    const stop = (signal: string) => {
      // A second signal does not wait for the first one's graceful close.
      process.once(signal, () => process.exit(1));
      resolve(signal);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  try {
    await app.listen({ port, host });
  } catch (err) {
    await app.close();
    throw new InputError(
      `cannot listen on ${host}:${port} (${(err as NodeJS.ErrnoException).code ?? err}); set SIGNALTAG_PORT or --port`,
      { cause: err },
    );
  }
  // Without a queue there are no workers: this process sends the webhooks its changes wrote.
  const drain = ctx.config.redisUrl
    ? undefined
    : startOutboxDrain(
        database.db,
        deliveryOptions(ctx.config, (line) => app.log.warn(line)),
      );
  const signal = await stopped;
  app.log.info({ signal }, "shutting down: finishing requests in flight");
  await drain?.stop();
  const deadline = setTimeout(() => {
    app.log.error(`requests still running after ${SHUTDOWN_DEADLINE_MS} ms; exiting`);
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS);
  deadline.unref();
  await app.close();
  clearTimeout(deadline);
}
