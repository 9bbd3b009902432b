import { DatabaseUnavailableError, RetriableRunError } from "../errors/index.ts";

/** Socket and postgres.js codes meaning the server is not there (or went away). */
const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "the connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ECONNRESET: "the server closed the connection",
  CONNECT_TIMEOUT: "no answer before the connect timeout",
  CONNECTION_CLOSED: "the server closed the connection",
  CONNECTION_ENDED: "the connection was ended",
  CONNECTION_DESTROYED: "the connection was destroyed",
  // Postgres itself: shutting down, starting up or in recovery.
  "57P01": "the server is shutting down",
  "57P02": "the server is shutting down",
  "57P03": "the server is not accepting connections yet",
};

/** Where a DATABASE_URL points, for messages; never its password. */
export function describeDatabaseUrl(url: string): {
  host: string;
  port: string;
  database: string;
  user: string;
} {
  try {
    const u = new URL(url);
    return {
      host: u.hostname || "localhost",
      port: u.port || "5432",
      database:
        decodeURIComponent(u.pathname.replace(/^\//, "")) || decodeURIComponent(u.username) || "postgres",
      user: decodeURIComponent(u.username),
    };
  } catch {
    return { host: "localhost", port: "5432", database: "postgres", user: "" };
  }
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The error of `err`'s cause chain that the driver raised (drizzle wraps it in
 * "Failed query: <sql>"), or undefined.
 */
function driverError(err: unknown): { code: string; message: string } | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return { code, message: e.message };
  }
  return undefined;
}

/**
 * Turns a driver error meaning "this database cannot be used" into a one-line
 * DatabaseUnavailableError naming the cause and what to do; undefined for any
 * other error.
 */
export function databaseUnavailable(err: unknown, url: string): DatabaseUnavailableError | undefined {
  const driver = driverError(err);
  if (!driver) return undefined;
  const { host, port, database, user } = describeDatabaseUrl(url);
  if (driver.code === "3D000") {
    const createdb = ["createdb", "-h", host, "-p", port, ...(user ? ["-U", user] : []), database]
      .map(shellWord)
      .join(" ");
    return new DatabaseUnavailableError(
      `database ${JSON.stringify(database)} does not exist on the Postgres server at ${host}:${port} (DATABASE_URL); create it with \`${createdb}\`, then run \`signaltag db migrate\``,
      { code: "database_missing", cause: err },
    );
  }
  if (driver.code === "28000" || driver.code === "28P01") {
    return new DatabaseUnavailableError(
      `the Postgres server at ${host}:${port} refused the connection: ${driver.message}; check the user and password in DATABASE_URL`,
      { code: "database_refused", cause: err },
    );
  }
  const reason = UNREACHABLE[driver.code];
  if (reason) {
    return new DatabaseUnavailableError(
      `cannot connect to Postgres at ${host}:${port} (DATABASE_URL): ${reason}; check that the server is running and that DATABASE_URL names the right host and port`,
      { code: "database_unreachable", cause: err },
    );
  }
  return undefined;
}

/**
 * True when `err` means Postgres is unreachable or the connection was lost
 * (a restart, a failover, a cut link): the same request can succeed once the
 * pool has reconnected, so callers answer 503 or retry instead of failing.
 */
export function isConnectionLoss(err: unknown): boolean {
  // The whole chain: a job's error may wrap the driver's in one of signaltag's, which has a code too.
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof RetriableRunError && e.databaseUnavailable) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code !== "string") continue;
    if (Object.hasOwn(UNREACHABLE, code) || code === "database_unreachable") return true;
  }
  return false;
}

/**
 * True when `err` is a transaction that lost a deadlock (40P01) or a
 * serialization race (40001): Postgres rolled it back, and running it again
 * from the start is expected to succeed.
 */
export function isTransactionConflict(err: unknown): boolean {
  const code = driverError(err)?.code;
  return code === "40P01" || code === "40001";
}
