/**
 * Every error class signaltag raises on purpose. Each carries a stable `code`,
 * the HTTP `status` the API answers with, and whether retrying can help; the
 * CLI prints `message` without a stack for these, and the worker turns
 * non-retriable ones into BullMQ's UnrecoverableError.
 */
export class SignaltagError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  /** The HTTP status a route answers this error with. */
  readonly status: number;
  /** Optional structured details (offending lines, unknown ids...). */
  readonly details?: unknown;

  constructor(
    code: string,
    message: string,
    opts: { cause?: unknown; retriable?: boolean; details?: unknown; status?: number } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = opts.retriable ?? false;
    this.status = opts.status ?? (this.retriable ? 503 : 400);
    this.details = opts.details;
  }
}

/** Bad configuration: an environment variable that does not parse. */
export class ConfigError extends SignaltagError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super("config_invalid", message, { ...opts, status: 500 });
  }
}

/** Input a person gave us (a file, an argument, a request body) is wrong. */
export class InputError extends SignaltagError {
  constructor(message: string, opts: { cause?: unknown; details?: unknown; code?: string } = {}) {
    super(opts.code ?? "invalid_input", message, { ...opts, status: 400 });
  }
}

/**
 * One value of an imported row is wrong: the message completes "column X
 * ..." and the import reports it with the row's line (skipping the row, or
 * refusing the file). It never leaves the import on its own.
 */
export class CellError extends SignaltagError {
  constructor(message: string) {
    super("invalid_cell", message, { status: 400 });
  }
}

/** Something that was asked for does not exist. */
export class NotFoundError extends SignaltagError {
  constructor(message: string, opts: { cause?: unknown; details?: unknown } = {}) {
    super("not_found", message, { ...opts, status: 404 });
  }
}

/** An operation the domain forbids (renaming or deleting a tag, a name already taken...). */
export class ConflictError extends SignaltagError {
  constructor(message: string, opts: { code?: string; details?: unknown } = {}) {
    super(opts.code ?? "conflict", message, { ...opts, status: 409 });
  }
}

/** The embedded database is held by another process. */
export class DatabaseBusyError extends SignaltagError {
  constructor(message: string) {
    super("database_busy", message, { retriable: true, status: 503 });
  }
}

/**
 * A COPY the server refused after its last data. postgres.js (3.4.9) drops
 * the server's error in that case (porsager/postgres#1173), so the reason is
 * only in the server's log.
 */
export class CopyRefused extends SignaltagError {
  constructor(statement: string) {
    super("copy_refused", `the server refused ${statement.split(" FROM ")[0]} (the reason is in its log)`, {
      status: 500,
    });
  }
}

/** Redis is configured but does not answer. */
export class RedisUnavailableError extends SignaltagError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super("redis_unavailable", message, { ...opts, retriable: true, status: 503 });
  }
}

/**
 * Something a command or route needs is not there (the queue without
 * REDIS_URL, a database not migrated...); the CLI exits 2.
 */
export class MissingPrerequisiteError extends SignaltagError {
  constructor(message: string, opts: { code?: string; cause?: unknown; retriable?: boolean } = {}) {
    super(opts.code ?? "missing_prerequisite", message, { ...opts, status: 503 });
  }
}

/**
 * The database at DATABASE_URL cannot be used: the server does not answer
 * (`database_unreachable`, retriable), the database does not exist
 * (`database_missing`) or the server refuses the user (`database_refused`).
 */
export class DatabaseUnavailableError extends MissingPrerequisiteError {
  constructor(
    message: string,
    opts: { code: "database_unreachable" | "database_missing" | "database_refused"; cause?: unknown },
  ) {
    super(message, { ...opts, retriable: opts.code === "database_unreachable" });
  }
}

/**
 * A run that failed for a reason that may pass (the database went away): its
 * job is retried. `databaseUnavailable` when the database could not be
 * reached at all: the job then waits for it without using up an attempt.
 */
export class RetriableRunError extends SignaltagError {
  readonly databaseUnavailable: boolean;

  constructor(message: string, opts: { cause?: unknown; databaseUnavailable?: boolean } = {}) {
    super("run_failed_retriable", message, { cause: opts.cause, retriable: true, status: 503 });
    this.databaseUnavailable = opts.databaseUnavailable ?? false;
  }
}

/**
 * A queued run job stops here: a rule fanned out into partition jobs (or
 * waits for another rule's), and the job goes on once they have finished.
 * It only travels from a rule back to its job (through the runner, which
 * starts nothing new after it); a job that saw it somehow would be retried.
 */
export class RunPausedError extends SignaltagError {
  constructor(message: string) {
    super("run_paused", message, { retriable: true, status: 503 });
  }
}

export function isSignaltagError(err: unknown): err is SignaltagError {
  return err instanceof SignaltagError;
}

/** The tracking API has more messages waiting to be stored than it holds; the client sends again. */
export class IngestBusyError extends SignaltagError {
  constructor(message: string) {
    super("ingest_busy", message, { retriable: true, status: 503 });
  }
}
