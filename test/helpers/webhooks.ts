import { type SQL, sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { rows } from "../../src/db/client.ts";
import { deliveryOptions } from "../../src/webhooks/deliveries.ts";
import { drainOutbox } from "../../src/webhooks/drain.ts";
import { type CliResult, runCli } from "./cli.ts";
import { type TestDatabase, useTestDatabase } from "./db.ts";
import { type Receiver, startReceiver } from "./webhook-receiver.ts";
import { addAccount, addUser, rulesDir } from "./workspace.ts";

export const AS_OF = "2026-03-01T12:00:00Z";

/** A rule tagging every user `veteran` (or, with `matches` false, none). */
export function everyoneRule(enabled = true, matches = true) {
  return {
    id: "veterans",
    name: "Veterans",
    tag: "veteran",
    target: "user",
    enabled,
    conditions: {
      all: [{ fact: "daysSinceCreated", operator: matches ? "greaterThanInclusive" : "lessThan", value: 0 }],
    },
  };
}

/** Polls until `check` holds, or fails after the deadline. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface WebhookWorkspace {
  readonly t: TestDatabase;
  /** The file's receiver, cleared and answering 200 before each test. */
  readonly rx: Receiver;
  readonly dir: string;
  /** More environment for the commands of this test (reset before each). */
  extraEnv: Record<string, string>;
  env(): Record<string, string>;
  cli(...argv: string[]): Promise<CliResult>;
  count(where?: SQL): Promise<number>;
  /** `webhooks add --url` the receiver; its secret goes to the receiver. */
  subscribe(...args: string[]): Promise<number>;
  /** Drains in this process until no delivery is pending. */
  deliverAll(): Promise<void>;
  /** What the receiver took (2xx), as "type entity tag source", sorted. */
  seen(): string[];
}

/**
 * A test file's database with one account and users u1..u8, the `veterans`
 * rule, no subscription, and a verifying receiver on loopback.
 */
export function useWebhookWorkspace(): WebhookWorkspace {
  const t = useTestDatabase();
  let rx: Receiver | undefined;
  let dir = "";
  beforeAll(async () => {
    rx = await startReceiver();
  });
  afterAll(async () => {
    await rx?.close();
  });
  beforeEach(async () => {
    await t.reset();
    await t.database.db.execute(
      sql.raw("truncate webhook_subscriptions, webhook_deliveries restart identity"),
    );
    w.rx.clear();
    w.rx.answer = () => 200;
    w.extraEnv = {};
    await addAccount(t.database, { id: "acc-1" });
    for (let i = 1; i <= 8; i++) await addUser(t.database, { id: `u${i}`, accountId: "acc-1" });
    dir = rulesDir([everyoneRule()]);
  });
  const w: WebhookWorkspace = {
    t,
    get rx() {
      if (!rx) throw new Error("receiver used before it started");
      return rx;
    },
    get dir() {
      return dir;
    },
    extraEnv: {},
    env: () => ({ SIGNALTAG_RULES_DIR: dir, SIGNALTAG_WEBHOOK_RETRY_BASE_MS: "20", ...w.extraEnv }),
    cli: (...argv) => runCli(t.database, argv, w.env()),
    async count(where = sql`true`) {
      const [r] = await rows<{ n: number }>(
        t.database.db,
        // A delivery's type and entity are its tag event's.
        sql`select count(*)::int as n from (
              select d.*, case when d.tag_event_id is null then 'ping' else 'tag.' || e.action end as type,
                     e.entity_type, e.entity_id
              from webhook_deliveries d left join tag_events e on e.id = d.tag_event_id) d
            where ${where}`,
      );
      return r!.n;
    },
    async subscribe(...args) {
      const r = await w.cli("webhooks", "add", "--url", w.rx.url, ...args);
      expect(r.code, r.stderr).toBe(0);
      w.rx.secret = /^secret (whsec_\S+)$/m.exec(r.stdout)![1]!;
      return Number(/^id (\d+)$/m.exec(r.stdout)![1]);
    },
    async deliverAll() {
      const controller = new AbortController();
      const opts = { ...deliveryOptions(loadConfig(w.env())), pollMs: 10 };
      const running = drainOutbox(t.database.db, opts, { signal: controller.signal });
      try {
        await until("every delivery settled", async () => (await w.count(sql`status = 'pending'`)) === 0);
      } finally {
        controller.abort();
        await running;
      }
    },
    seen: () =>
      w.rx
        .delivered()
        .map((r) => `${r.body.type} ${r.body.data.entityId} ${r.body.data.tag} ${r.body.data.source}`)
        .sort(),
  };
  return w;
}
