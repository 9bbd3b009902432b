import fs from "node:fs";
import path from "node:path";
import { DatabaseBusyError } from "../errors/index.ts";

/** The data directories this process holds. */
const heldLocks = new Set<string>();

/**
 * The embedded database serves one process at a time. A lock file holds the
 * owner's pid; a lock left by a process that no longer runs is taken over.
 * Returns the release, which also runs when the process exits.
 */
export function acquireDataDirLock(dataDir: string): () => void {
  const lockPath = path.join(dataDir, "signaltag.lock");
  if (heldLocks.has(lockPath)) {
    throw new DatabaseBusyError(
      `The embedded database in ${dataDir} is already open in this process; it serves one connection at a time. Set DATABASE_URL to a Postgres database for concurrent use.`,
    );
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: "wx" });
      heldLocks.add(lockPath);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        heldLocks.delete(lockPath);
        process.removeListener("exit", release);
        try {
          if (fs.readFileSync(lockPath, "utf8") === String(process.pid)) fs.unlinkSync(lockPath);
        } catch {
          // already gone
        }
      };
      process.once("exit", release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number(fs.readFileSync(lockPath, "utf8").trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new DatabaseBusyError(
          `The embedded database in ${dataDir} is in use by process ${owner}; it serves one process at a time. Set DATABASE_URL to a Postgres database to run several processes.`,
        );
      }
      fs.rmSync(lockPath, { force: true });
    }
  }
  throw new DatabaseBusyError(
    `Could not lock the embedded database in ${dataDir}; set DATABASE_URL to use Postgres.`,
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
