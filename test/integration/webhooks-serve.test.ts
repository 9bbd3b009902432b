import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, testBackend, useTestDatabase } from "../helpers/db.ts";
import { type Receiver, startReceiver } from "../helpers/webhook-receiver.ts";
import { addAccount, addUser, rulesDir } from "../helpers/workspace.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Two processes on one database: the server and the CLI beside it, so Postgres only.
describe.skipIf(backendUnavailable() || testBackend() !== "postgres")(
  "signaltag serve without a queue",
  () => {
    const t = useTestDatabase();
    let rx: Receiver;
    beforeAll(async () => {
      rx = await startReceiver();
    });
    afterAll(async () => {
      await rx.close();
    });

    it("sends the deliveries of changes made by other processes, and stops on SIGTERM", async () => {
      const env = { SIGNALTAG_RULES_DIR: rulesDir([]) };
      await addAccount(t.database, { id: "acc-1" });
      await addUser(t.database, { id: "u1", accountId: "acc-1" });
      const add = await runCli(t.database, ["webhooks", "add", "--url", rx.url], env);
      rx.secret = /^secret (\S+)$/m.exec(add.stdout)![1]!;
      const port = await freePort();
      const server = spawn(
        process.execPath,
        [path.join(root, "bin/signaltag.js"), "serve", "--port", String(port)],
        {
          cwd: root,
          env: { PATH: process.env.PATH ?? "", DATABASE_URL: t.url!, ...env, SIGNALTAG_LOG_LEVEL: "warn" },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      server.stdout.on("data", (d: Buffer) => {
        out += d.toString();
      });
      server.stderr.on("data", (d: Buffer) => {
        out += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => server.on("exit", (code) => resolve(code)));
      try {
        await until("the server to answer", async () => {
          if (server.exitCode !== null) throw new Error(`serve exited:\n${out}`);
          return fetch(`http://127.0.0.1:${port}/health`)
            .then((r) => r.ok)
            .catch(() => false);
        });
        expect((await runCli(t.database, ["tag", "add", "user", "u1", "vip"], env)).code).toBe(0);
        await until("the delivery", () => rx.delivered().length === 1);
        expect(rx.requests[0]).toMatchObject({
          verified: true,
          body: { type: "tag.added", data: { entityId: "u1", tag: "vip", source: "manual" } },
        });
      } finally {
        server.kill("SIGTERM");
      }
      expect(await exited).toBe(0);
    });
  },
);
