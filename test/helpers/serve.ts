import type { ChildProcess } from "node:child_process";
import { afterEach } from "vitest";
import { type Exit, spawnSignaltag } from "./process.ts";
import { waitFor } from "./queue.ts";

export interface SpawnedServer {
  readonly process: ChildProcess;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  output(): string;
  readonly exited: Promise<Exit>;
  stop(signal?: NodeJS.Signals): Promise<Exit>;
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
    const { child, output, exited } = spawnSignaltag(["serve", "--port", "0", "--host", "127.0.0.1"], {
      env: { SIGNALTAG_LOG_LEVEL: "info", ...env },
    });
    const server = {
      process: child,
      url: "",
      output,
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
        if (child.exitCode !== null) throw new Error(`serve exited (${child.exitCode}):\n${output()}`);
        return /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1];
      },
      { timeoutMs: 60_000 },
    );
    server.url = url;
    return server;
  };
}
