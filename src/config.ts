import path from "node:path";
import { z } from "zod";
import { ConfigError } from "./errors/index.ts";
import { redactUrl } from "./errors/redact-url.ts";

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function urlWithProtocol(protocols: string[], example: string) {
  return z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL like ${example}` },
  );
}

const optionalString = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), schema.optional());

const envSchema = z.object({
  DATABASE_URL: optionalString(
    urlWithProtocol(["postgres:", "postgresql:"], "postgres://user@127.0.0.1:5432/signaltag"),
  ),
  SIGNALTAG_DATA_DIR: optionalString(z.string()).default("./.signaltag"),
  REDIS_URL: optionalString(urlWithProtocol(["redis:", "rediss:"], "redis://127.0.0.1:6379")),
  SIGNALTAG_RULES_DIR: optionalString(z.string()).default("./rules"),
  SIGNALTAG_TIMEZONE: optionalString(
    z.string().refine(isTimeZone, { message: "must be an IANA time zone such as UTC or Europe/Berlin" }),
  ).default("UTC"),
  SIGNALTAG_PORT: optionalString(z.coerce.number().int().min(1).max(65535)).default(3000),
  SIGNALTAG_HOST: optionalString(z.string()).default("127.0.0.1"),
  SIGNALTAG_REMOVAL_GUARD: optionalString(z.coerce.number().min(0).max(1)).default(0.5),
  SIGNALTAG_RUN_CONCURRENCY: optionalString(z.coerce.number().int().min(1).max(64)).default(2),
  SIGNALTAG_QUEUE_PREFIX: optionalString(
    z.string().regex(/^[A-Za-z0-9_.-]+$/, { message: "must be letters, digits, '_', '.' or '-'" }),
  ).default("signaltag"),
  SIGNALTAG_PARTITION_SIZE: optionalString(z.coerce.number().int().min(1)).default(50_000),
  SIGNALTAG_WORKER_CONCURRENCY: optionalString(z.coerce.number().int().min(1).max(256)).default(4),
  SIGNALTAG_SHUTDOWN_TIMEOUT_MS: optionalString(z.coerce.number().int().min(0)).default(30_000),
  SIGNALTAG_DEBOUNCE_MS: optionalString(z.coerce.number().int().min(0)).default(500),
  SIGNALTAG_JOB_LOCK_MS: optionalString(z.coerce.number().int().min(500)).default(30_000),
  SIGNALTAG_LOG_LEVEL: optionalString(
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
  ).default("info"),
});

export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  redisUrl: string | undefined;
  rulesDir: string;
  timezone: string;
  port: number;
  host: string;
  /** Share of a rule's claims a run may remove before it is held (0..1). */
  removalGuard: number;
  /** Rules one run on Postgres evaluates at once when they do not wait for each other. */
  runConcurrency: number;
  logLevel: string;
  /** Queue settings (BullMQ on REDIS_URL). */
  queue: {
    /** Redis key prefix of every queue, so several deployments (or tests) share one Redis. */
    prefix: string;
    /** A rule run over more entities than this fans out into partition jobs. */
    partitionSize: number;
    /** Jobs one worker process runs at once. */
    concurrency: number;
    /** How long a stopping worker waits for its current jobs before it forces its way out. */
    shutdownTimeoutMs: number;
    /** Quiet period before an event-driven re-evaluation runs; new activity within it restarts it. */
    debounceMs: number;
    /** A job whose worker stops renewing its lock for this long is taken back as stalled. */
    lockMs: number;
  };
}

/**
 * Parses the environment once. A bad value throws a ConfigError whose message
 * is one line naming the variable and what it must be.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? "environment");
    const raw = env[name];
    // A URL may carry a password: it never reaches a terminal or a log.
    const value = raw !== undefined && name.endsWith("_URL") ? redactUrl(raw) : raw;
    throw new ConfigError(
      `${name}${value === undefined ? "" : `=${JSON.stringify(value)}`} is invalid: ${issue?.message ?? "bad value"}`,
    );
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.SIGNALTAG_DATA_DIR),
    redisUrl: e.REDIS_URL,
    rulesDir: path.resolve(e.SIGNALTAG_RULES_DIR),
    timezone: e.SIGNALTAG_TIMEZONE,
    port: e.SIGNALTAG_PORT,
    host: e.SIGNALTAG_HOST,
    removalGuard: e.SIGNALTAG_REMOVAL_GUARD,
    runConcurrency: e.SIGNALTAG_RUN_CONCURRENCY,
    logLevel: e.SIGNALTAG_LOG_LEVEL,
    queue: {
      prefix: e.SIGNALTAG_QUEUE_PREFIX,
      partitionSize: e.SIGNALTAG_PARTITION_SIZE,
      concurrency: e.SIGNALTAG_WORKER_CONCURRENCY,
      shutdownTimeoutMs: e.SIGNALTAG_SHUTDOWN_TIMEOUT_MS,
      debounceMs: e.SIGNALTAG_DEBOUNCE_MS,
      lockMs: e.SIGNALTAG_JOB_LOCK_MS,
    },
  };
}
