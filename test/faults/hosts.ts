import { execFileSync } from "node:child_process";
import { spawnSignaltag } from "../helpers/process.ts";
import { asWorker, type SpawnedWorker } from "../helpers/queue.ts";

export const NETNS_PREFIX = "sigfaults-";

/** A network namespace joined to the host by a veth pair: a host of its own, as far as the network goes. */
export interface Host {
  name: string;
  /** The host side's address: where this host reaches Postgres and Redis. */
  gateway: string;
  /** The host side of the veth pair; setting it down cuts the host off. */
  link: string;
}

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Makes host `n` of this run: namespace, veth pair, 10.213.n.0/24 with the host side at .1. */
export function addHost(n: number): Host {
  const tag = `${process.pid % 100_000}h${n}`;
  const host: Host = {
    name: `${NETNS_PREFIX}${process.pid}-${n}`,
    gateway: `10.213.${n}.1`,
    link: `sfo${tag}`,
  };
  const inside = `sfi${tag}`;
  ip("netns", "add", host.name);
  try {
    ip("link", "add", host.link, "type", "veth", "peer", "name", inside);
    ip("link", "set", inside, "netns", host.name);
    ip("addr", "add", `${host.gateway}/24`, "dev", host.link);
    ip("link", "set", host.link, "up");
    ip("netns", "exec", host.name, "ip", "addr", "add", `10.213.${n}.2/24`, "dev", inside);
    ip("netns", "exec", host.name, "ip", "link", "set", inside, "up");
    ip("netns", "exec", host.name, "ip", "link", "set", "lo", "up");
    ip("netns", "exec", host.name, "ip", "route", "add", "default", "via", host.gateway);
  } catch (err) {
    removeHost(host);
    throw err;
  }
  return host;
}

/** Removes the namespace; its end of the veth pair, and with it the host side, goes too. */
export function removeHost(host: Pick<Host, "name" | "link">): void {
  try {
    ip("netns", "del", host.name);
  } catch {
    // Already gone.
  }
  try {
    ip("link", "del", host.link);
  } catch {
    // Went with the namespace.
  }
}

export function cutLink(host: Host): void {
  ip("link", "set", host.link, "down");
}

/** `signaltag worker` inside the host's namespace, waited for until it is ready. */
export async function spawnWorkerOn(host: Host, env: Record<string, string>): Promise<SpawnedWorker> {
  const spawned = spawnSignaltag(["worker"], { env, prefix: ["ip", "netns", "exec", host.name] });
  const { child, exited } = spawned;
  const worker = asWorker(spawned, ` on ${host.name}`);
  try {
    await worker.waitForOutput(/ ready: /, 60_000);
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    throw err;
  }
  return worker;
}
