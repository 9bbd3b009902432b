import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";
import { waitFor } from "./queue.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface SpawnedServer {
  readonly process: ChildProcess;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `node bin/signaltag.js serve --port 0` as a real process, waited for until it
 * listens; every server a test starts is killed after it if the test did not
 * stop it.
 */
export function useServeProcess() {
  const started = new Set<SpawnedServer>();
  afterEach(async () => {
    for (const s of started) {
      if (s.process.exitCode === null && s.process.signalCode === null) {
        s.process.kill("SIGKILL");
        await s.exited;
      }
    }
    started.clear();
  });
  return async function spawnServe(env: Record<string, string>): Promise<SpawnedServer> {
    const child = spawn(
      process.execPath,
      [path.join(root, "bin/signaltag.js"), "serve", "--port", "0", "--host", "127.0.0.1"],
      { cwd: root, env: { SIGNALTAG_LOG_LEVEL: "info", ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on("exit", (code, signal) => resolve({ code, signal }));
    });
    const server = {
      process: child,
      url: "",
      output: () => out,
      exited,
      async stop(signal: NodeJS.Signals = "SIGTERM") {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
    started.add(server);
    const url = await waitFor(
      "the server to listen",
      () => {
        if (child.exitCode !== null) throw new Error(`serve exited (${child.exitCode}):\n${out}`);
        return /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      },
      { timeoutMs: 60_000 },
    );
    server.url = url;
    return server;
  };
}
