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
    { message: `a URL like ${example}` },
  );
}

/** A whole number within bounds; its issue message completes "VAR must be ...". */
function wholeNumber(min: number, max?: number) {
  const what =
    max === undefined ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`;
  return z.string().transform((value, ctx) => {
    const n = Number(value.trim());
    if (!/^\s*\d+\s*$/.test(value) || n < min || (max !== undefined && n > max)) {
      ctx.addIssue({ code: "custom", message: what });
      return z.NEVER;
    }
    return n;
  });
}

const fraction = z.string().transform((value, ctx) => {
  const n = Number(value.trim());
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    ctx.addIssue({ code: "custom", message: "a number from 0 to 1, such as 0.5" });
    return z.NEVER;
  }
  return n;
});

const optionalString = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), schema.optional());

/** What an unset variable means, for the error that says how to get back to it. */
const defaults = {
  SIGNALTAG_DATA_DIR: "./.signaltag",
  SIGNALTAG_RULES_DIR: "./rules",
  SIGNALTAG_TIMEZONE: "UTC",
  SIGNALTAG_PORT: 3000,
  SIGNALTAG_HOST: "127.0.0.1",
  SIGNALTAG_REMOVAL_GUARD: 0.5,
  SIGNALTAG_RUN_CONCURRENCY: 2,
  SIGNALTAG_INGEST_COMMITS: 4,
  SIGNALTAG_QUEUE_PREFIX: "signaltag",
  SIGNALTAG_PARTITION_SIZE: 50_000,
  SIGNALTAG_WORKER_CONCURRENCY: 4,
  SIGNALTAG_SHUTDOWN_TIMEOUT_MS: 30_000,
  SIGNALTAG_DEBOUNCE_MS: 500,
  SIGNALTAG_JOB_LOCK_MS: 30_000,
  SIGNALTAG_LOG_LEVEL: "info",
  SIGNALTAG_WEBHOOK_TIMEOUT_MS: 10_000,
  SIGNALTAG_WEBHOOK_RETRY_BASE_MS: 5_000,
  SIGNALTAG_WEBHOOK_GIVE_UP_MS: 24 * 3600_000,
  SIGNALTAG_INGEST_WAIT_DAYS: 7,
  SIGNALTAG_WEBHOOK_KEEP_DELIVERED_DAYS: 7,
  SIGNALTAG_WEBHOOK_KEEP_FAILED_DAYS: 30,
} as const;

/** What unsetting a variable without a default does. */
const unsetMeans: Record<string, string> = {
  DATABASE_URL: "unset it to use the embedded database in SIGNALTAG_DATA_DIR",
  REDIS_URL: "unset it to run rules inline, without a queue",
};

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const envSchema = z.object({
  DATABASE_URL: optionalString(
    urlWithProtocol(["postgres:", "postgresql:"], "postgres://user@127.0.0.1:5432/signaltag"),
  ),
  SIGNALTAG_DATA_DIR: optionalString(z.string()).default(defaults.SIGNALTAG_DATA_DIR),
  REDIS_URL: optionalString(urlWithProtocol(["redis:", "rediss:"], "redis://127.0.0.1:6379")),
  SIGNALTAG_RULES_DIR: optionalString(z.string()).default(defaults.SIGNALTAG_RULES_DIR),
  SIGNALTAG_TIMEZONE: optionalString(
    z.string().refine(isTimeZone, { message: "an IANA time zone such as UTC or Europe/Berlin" }),
  ).default(defaults.SIGNALTAG_TIMEZONE),
  SIGNALTAG_PORT: optionalString(wholeNumber(1, 65535)).default(defaults.SIGNALTAG_PORT),
  SIGNALTAG_HOST: optionalString(z.string()).default(defaults.SIGNALTAG_HOST),
  SIGNALTAG_REMOVAL_GUARD: optionalString(fraction).default(defaults.SIGNALTAG_REMOVAL_GUARD),
  SIGNALTAG_RUN_CONCURRENCY: optionalString(wholeNumber(1, 64)).default(defaults.SIGNALTAG_RUN_CONCURRENCY),
  SIGNALTAG_INGEST_COMMITS: optionalString(wholeNumber(1, 64)).default(defaults.SIGNALTAG_INGEST_COMMITS),
  SIGNALTAG_QUEUE_PREFIX: optionalString(
    z.string().regex(/^[A-Za-z0-9_.-]+$/, { message: "letters, digits, '_', '.' or '-'" }),
  ).default(defaults.SIGNALTAG_QUEUE_PREFIX),
  SIGNALTAG_PARTITION_SIZE: optionalString(wholeNumber(1)).default(defaults.SIGNALTAG_PARTITION_SIZE),
  SIGNALTAG_WORKER_CONCURRENCY: optionalString(wholeNumber(1, 256)).default(
    defaults.SIGNALTAG_WORKER_CONCURRENCY,
  ),
  SIGNALTAG_SHUTDOWN_TIMEOUT_MS: optionalString(wholeNumber(0)).default(
    defaults.SIGNALTAG_SHUTDOWN_TIMEOUT_MS,
  ),
  SIGNALTAG_DEBOUNCE_MS: optionalString(wholeNumber(0)).default(defaults.SIGNALTAG_DEBOUNCE_MS),
  SIGNALTAG_JOB_LOCK_MS: optionalString(wholeNumber(500)).default(defaults.SIGNALTAG_JOB_LOCK_MS),
  SIGNALTAG_SEGMENT_BUDGET_MS: optionalString(wholeNumber(0)),
  SIGNALTAG_LOG_LEVEL: optionalString(
    z.enum(logLevels, { message: `one of ${logLevels.join(", ")}` }),
  ).default(defaults.SIGNALTAG_LOG_LEVEL),
  SIGNALTAG_WEBHOOK_TIMEOUT_MS: optionalString(wholeNumber(100, 600_000)).default(
    defaults.SIGNALTAG_WEBHOOK_TIMEOUT_MS,
  ),
  SIGNALTAG_WEBHOOK_RETRY_BASE_MS: optionalString(wholeNumber(10)).default(
    defaults.SIGNALTAG_WEBHOOK_RETRY_BASE_MS,
  ),
  SIGNALTAG_WEBHOOK_GIVE_UP_MS: optionalString(wholeNumber(0)).default(defaults.SIGNALTAG_WEBHOOK_GIVE_UP_MS),
  SIGNALTAG_INGEST_WAIT_DAYS: optionalString(wholeNumber(0, 3650)).default(
    defaults.SIGNALTAG_INGEST_WAIT_DAYS,
  ),
  SIGNALTAG_WEBHOOK_KEEP_DELIVERED_DAYS: optionalString(wholeNumber(0, 36_500)).default(
    defaults.SIGNALTAG_WEBHOOK_KEEP_DELIVERED_DAYS,
  ),
  SIGNALTAG_WEBHOOK_KEEP_FAILED_DAYS: optionalString(wholeNumber(0, 36_500)).default(
    defaults.SIGNALTAG_WEBHOOK_KEEP_FAILED_DAYS,
  ),
});

/** A variable's value for a message: quoted, with a URL's password left out (it never reaches a terminal or a log). */
function shown(value: string): string {
  return JSON.stringify(value.includes("@") ? redactUrl(value) : value);
}

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
  /** Transactions of the tracking API in flight at once on Postgres (the embedded database runs one). */
  ingestCommits: number;
  logLevel: string;
  /** Time one segment request may spend evaluating conditions; unset: the limit in limits.ts. */
  segmentBudgetMs: number | undefined;
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
  /** Webhook delivery (docs/webhooks.md). */
  webhooks: {
    /** A request that has not answered in this long counts as failed and is retried. */
    timeoutMs: number;
    /** The first retry's delay; each later one doubles (with jitter), capped at 2 h. */
    retryBaseMs: number;
    /** How long after its creation a delivery is still retried before it is marked failed. */
    giveUpMs: number;
    /** Delivered rows are deleted this many days after delivery. */
    keepDeliveredDays: number;
    /** Failed rows (kept for replay) are deleted this many days after they were written or last replayed. */
    keepFailedDays: number;
  };
  /** The tracking API (docs/ingest.md). */
  ingest: {
    /**
     * Days a message waits for a user or account never identified before it
     * is deleted (and counted); 0 keeps it until deleted by hand.
     */
    waitDays: number;
  };
}

/**
 * Parses the environment once. A bad value throws a ConfigError whose message
 * is one line, as every other signaltag error: the variable, what it must be,
 * the value it has and what to do.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? "environment");
    const value = env[name];
    const fallback = (defaults as Record<string, string | number>)[name];
    const fix = `correct it, or ${unsetMeans[name] ?? (fallback === undefined ? "unset it" : `unset it to use ${fallback}`)}`;
    throw new ConfigError(
      `environment variable ${name} must be ${issue?.message ?? "valid"}, not ${value === undefined ? "missing" : shown(value)}; ${fix}`,
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
    ingestCommits: e.SIGNALTAG_INGEST_COMMITS,
    logLevel: e.SIGNALTAG_LOG_LEVEL,
    segmentBudgetMs: e.SIGNALTAG_SEGMENT_BUDGET_MS,
    queue: {
      prefix: e.SIGNALTAG_QUEUE_PREFIX,
      partitionSize: e.SIGNALTAG_PARTITION_SIZE,
      concurrency: e.SIGNALTAG_WORKER_CONCURRENCY,
      shutdownTimeoutMs: e.SIGNALTAG_SHUTDOWN_TIMEOUT_MS,
      debounceMs: e.SIGNALTAG_DEBOUNCE_MS,
      lockMs: e.SIGNALTAG_JOB_LOCK_MS,
    },
    webhooks: {
      timeoutMs: e.SIGNALTAG_WEBHOOK_TIMEOUT_MS,
      retryBaseMs: e.SIGNALTAG_WEBHOOK_RETRY_BASE_MS,
      giveUpMs: e.SIGNALTAG_WEBHOOK_GIVE_UP_MS,
      keepDeliveredDays: e.SIGNALTAG_WEBHOOK_KEEP_DELIVERED_DAYS,
      keepFailedDays: e.SIGNALTAG_WEBHOOK_KEEP_FAILED_DAYS,
    },
    ingest: { waitDays: e.SIGNALTAG_INGEST_WAIT_DAYS },
  };
}
