import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** A `signaltag` command as a child process, with the last 20 KB of its output kept for messages. */
export function spawnSignaltag(
  command: string[],
  env: Record<string, string>,
  nodeArgs: string[] = [],
): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [...nodeArgs, path.join(root, "bin/signaltag.js"), ...command], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const collect = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  return { child, output: () => out };
}

/**
 * Polls every 100 ms until `ready()` holds; rejects with the command's output
 * when the process exits first.
 */
export function whenReady(
  started: { child: ChildProcess; output: () => string },
  ready: () => boolean | Promise<boolean>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(async () => {
      if (started.child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`signaltag exited with ${started.child.exitCode}:\n${started.output()}`));
      } else if (await ready()) {
        clearInterval(timer);
        resolve();
      }
    }, 100);
  });
}

/** SIGTERM, and waits for the process to exit. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}
