/**
 * Error classes. Each carries a stable `code` and whether retrying can help;
 * the CLI prints `message` without a stack for user mistakes, and the worker
 * turns non-retriable errors into BullMQ's UnrecoverableError.
 */
export class SignaltagError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  /** Optional structured details (offending lines, unknown ids...). */
  readonly details?: unknown;

  constructor(
    code: string,
    message: string,
    opts: { cause?: unknown; retriable?: boolean; details?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = opts.retriable ?? false;
    this.details = opts.details;
  }
}

/** Bad configuration: an environment variable that does not parse. */
export class ConfigError extends SignaltagError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super("config_invalid", message, opts);
  }
}

/** Input a person gave us (a file, an argument, a request body) is wrong. */
export class InputError extends SignaltagError {
  constructor(message: string, opts: { cause?: unknown; details?: unknown; code?: string } = {}) {
    super(opts.code ?? "invalid_input", message, opts);
  }
}

/** Something that was asked for does not exist. */
export class NotFoundError extends SignaltagError {
  constructor(message: string, opts: { cause?: unknown; details?: unknown } = {}) {
    super("not_found", message, opts);
  }
}

/** The embedded database is held by another process. */
export class DatabaseBusyError extends SignaltagError {
  constructor(message: string) {
    super("database_busy", message, { retriable: true });
  }
}

/** An operation the domain forbids (renaming or deleting a tag...). */
export class ConflictError extends SignaltagError {
  constructor(message: string, opts: { code?: string; details?: unknown } = {}) {
    super(opts.code ?? "conflict", message, opts);
  }
}

export function isSignaltagError(err: unknown): err is SignaltagError {
  return err instanceof SignaltagError;
}
