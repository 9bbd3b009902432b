import type { ChildProcess } from "node:child_process";
import net from "node:net";
import { type Exit, spawnSignaltag } from "../helpers/process.ts";
import { waitFor } from "../helpers/queue.ts";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface ServeProcess {
  readonly url: string;
  readonly process: ChildProcess;
  output(): string;
  alive(): boolean;
  stop(): Promise<Exit>;
}

/** `signaltag serve` as its own process, waited for until /health answers. */
export async function spawnServe(env: Record<string, string>): Promise<ServeProcess> {
  const port = await freePort();
  const { child, output, exited } = spawnSignaltag(["serve"], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env, SIGNALTAG_PORT: String(port) },
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      "serve to answer /health",
      async () => {
        if (!alive()) throw new Error(`serve exited:\n${output()}`);
        return (await fetch(`${url}/health`)).status === 200;
      },
      { timeoutMs: 60_000 },
    );
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    throw err;
  }
  return {
    url,
    process: child,
    output,
    alive,
    async stop() {
      if (alive()) child.kill("SIGTERM");
      return exited;
    },
  };
}
