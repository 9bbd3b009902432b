import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "../helpers/queue.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

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
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `signaltag serve` as its own process, waited for until /health answers. */
export async function spawnServe(env: Record<string, string>): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(root, "bin/signaltag.js"), "serve"], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env, SIGNALTAG_PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
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
  const alive = () => child.exitCode === null && child.signalCode === null;
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      "serve to answer /health",
      async () => {
        if (!alive()) throw new Error(`serve exited:\n${out}`);
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
    output: () => out,
    alive,
    async stop() {
      if (alive()) child.kill("SIGTERM");
      return exited;
    },
  };
}
