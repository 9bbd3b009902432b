import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { printFigures } from "./figures.ts";
import { NETNS_PREFIX } from "./hosts.ts";

declare module "vitest" {
  export interface ProvidedContext {
    faultServices: FaultServices;
  }
}

/** The Postgres cluster and Redis server this run of the fault suite owns, and may restart. */
export interface FaultServices {
  pgVersion: string;
  cluster: string;
  pgPort: number;
  redisPort: number;
  /** Redis's directory (its AOF and pid file live here). */
  redisDir: string;
  /** Where the tests append their figures (one JSON line each). */
  figuresFile: string;
}

const PREFIX = "sigfaults_";

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "0.0.0.0", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The arguments that start this suite's Redis, the same at every restart. */
export function redisArgs(s: Pick<FaultServices, "redisPort" | "redisDir">): string[] {
  return [
    "--port",
    String(s.redisPort),
    "--bind",
    "0.0.0.0",
    "--protected-mode",
    "no",
    "--daemonize",
    "yes",
    "--pidfile",
    path.join(s.redisDir, "redis.pid"),
    "--dir",
    s.redisDir,
    "--logfile",
    path.join(s.redisDir, "redis.log"),
    // Every write on disk before it is acknowledged: a restart "with its data" keeps every job.
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--save",
    "",
  ];
}

/** Clusters and Redis directories left by a fault run that was killed before its teardown. */
function removeLeftovers(pgVersion: string): void {
  const clusters = run("pg_lsclusters", ["--no-header"])
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0] === pgVersion && f[1]?.startsWith(PREFIX));
  for (const [, name] of clusters) {
    const owner = Number(name!.slice(PREFIX.length));
    if (!alive(owner)) run("pg_dropcluster", ["--stop", pgVersion, name!]);
  }
  const namespaces = run("ip", ["netns", "list"])
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(NETNS_PREFIX));
  for (const ns of namespaces) {
    if (!alive(Number(ns.slice(NETNS_PREFIX.length).split("-")[0]))) run("ip", ["netns", "del", ns]);
  }
  for (const dir of fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith("sigfaults-redis-"))) {
    const owner = Number(dir.slice("sigfaults-redis-".length));
    if (alive(owner)) continue;
    stopRedis(path.join(os.tmpdir(), dir), "nosave");
    fs.rmSync(path.join(os.tmpdir(), dir), { recursive: true, force: true });
  }
}

export function stopRedis(dir: string, mode: "save" | "nosave"): void {
  const pidFile = path.join(dir, "redis.pid");
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, "utf8"));
  if (!alive(pid)) return;
  // SIGTERM makes Redis save (AOF fsync) and exit; nosave is SIGKILL: whatever is in memory is gone.
  process.kill(pid, mode === "save" ? "SIGTERM" : "SIGKILL");
  const deadline = Date.now() + 20_000;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new Error(`redis ${pid} did not stop`);
    execFileSync("sleep", ["0.05"]);
  }
}

/**
 * Starts a Postgres cluster and a Redis server of the suite's own on free
 * ports, points the test helpers at them, and removes both afterwards (also
 * when a test failed; a run killed outright is cleaned up by the next one).
 * Both listen on every address so workers in network namespaces reach them.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const pgVersion = fs.readdirSync("/etc/postgresql").sort().at(-1)!;
  removeLeftovers(pgVersion);
  const cluster = `${PREFIX}${process.pid}`;
  const pgPort = await freePort();
  const redisPort = await freePort();
  const redisDir = path.join(os.tmpdir(), `sigfaults-redis-${process.pid}`);
  fs.mkdirSync(redisDir, { recursive: true });
  const services: FaultServices = {
    pgVersion,
    cluster,
    pgPort,
    redisPort,
    redisDir,
    figuresFile: path.join(redisDir, "figures.ndjson"),
  };
  const teardown = async () => {
    try {
      stopRedis(services.redisDir, "nosave");
    } finally {
      fs.rmSync(services.redisDir, { recursive: true, force: true });
      try {
        run("pg_dropcluster", ["--stop", pgVersion, cluster]);
      } catch {
        // Never created: nothing to drop.
      }
    }
  };
  try {
    run("pg_createcluster", [pgVersion, cluster, "--port", String(pgPort)]);
    const conf = `/etc/postgresql/${pgVersion}/${cluster}`;
    fs.writeFileSync(
      path.join(conf, "conf.d", "faults.conf"),
      [
        "listen_addresses = '*'",
        "fsync = off",
        "synchronous_commit = off",
        "max_connections = 200",
        // A worker whose host vanished holds its transaction (and the rule's lock) until the
        // server notices: these make that seconds, not the kernel's two hours (docs/deploy.md).
        "tcp_keepalives_idle = 5",
        "tcp_keepalives_interval = 2",
        "tcp_keepalives_count = 3",
        "tcp_user_timeout = 10000",
        "",
      ].join("\n"),
    );
    fs.writeFileSync(
      path.join(conf, "pg_hba.conf"),
      "local all all trust\nhost all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n",
    );
    run("pg_ctlcluster", [pgVersion, cluster, "start"]);
    run("redis-server", redisArgs(services));
    fs.writeFileSync(services.figuresFile, "");
  } catch (err) {
    await teardown();
    throw err;
  }
  process.env.TEST_POSTGRES_URL = `postgres://postgres@127.0.0.1:${pgPort}/postgres`;
  process.env.TEST_REDIS_URL = `redis://127.0.0.1:${redisPort}`;
  project.provide("faultServices", services);
  return async () => {
    try {
      printFigures(services.figuresFile);
    } finally {
      await teardown();
    }
  };
}
