import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { rows } from "../../src/db/client.ts";
import { type Role, useApi } from "../helpers/api.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount } from "../helpers/workspace.ts";

describe.skipIf(backendUnavailable())("concurrent tagging through the HTTP API", () => {
  const t = useTestDatabase();
  const api = useApi(t);
  let keys: Record<Role, string>;

  beforeAll(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
    await t.database.db.execute(sql`
      insert into users (id, account_id, created_at)
      select 'u' || i, 'acc-1', '2025-01-01T00:00:00Z'::timestamptz from generate_series(1, 20) i`);
    keys = await api.createKeys();
  });

  it("keeps claims and history exactly in step with the requests that answered changed", async () => {
    const requests = Array.from({ length: 600 }, (_, i) => ({
      user: `u${1 + (i % 20)}`,
      tag: i % 3 === 0 ? "hot" : "warm",
      add: (i * 7919) % 5 < 3,
    }));
    const answers = new Map<string, { added: number; removed: number }>();
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const r = requests[next++]!;
        const res = r.add
          ? await api.call(keys.editor, {
              method: "POST",
              url: `/v1/users/${r.user}/tags`,
              payload: { tag: r.tag },
            })
          : await api.call(keys.editor, { method: "DELETE", url: `/v1/users/${r.user}/tags/${r.tag}` });
        expect(res.statusCode, res.body).toBe(200);
        const key = `${r.user}/${r.tag}`;
        const a = answers.get(key) ?? { added: 0, removed: 0 };
        if (res.json().changed) r.add ? a.added++ : a.removed++;
        answers.set(key, a);
      }
    };
    await Promise.all(Array.from({ length: 40 }, worker));
    const events = await rows<{ key: string; action: string }>(
      t.database.db,
      sql`select e.entity_id || '/' || t.name as key, e.action from tag_events e join tags t on t.id = e.tag_id order by e.id`,
    );
    const claims = new Set(
      (
        await rows<{ key: string }>(
          t.database.db,
          sql`select c.entity_id || '/' || t.name as key from claims c join tags t on t.id = c.tag_id`,
        )
      ).map((c) => c.key),
    );
    const replay = new Map<string, { added: number; removed: number; last?: string }>();
    for (const e of events) {
      const s = replay.get(e.key) ?? { added: 0, removed: 0 };
      expect(s.last, `${e.key} ${e.action} twice in a row`).not.toBe(e.action);
      s.last = e.action;
      e.action === "added" ? s.added++ : s.removed++;
      replay.set(e.key, s);
    }
    for (const [key, a] of answers) {
      const s = replay.get(key) ?? { added: 0, removed: 0 };
      expect({ key, added: s.added, removed: s.removed }).toEqual({ key, ...a });
      expect(claims.has(key)).toBe(s.last === "added");
    }
  });
});
