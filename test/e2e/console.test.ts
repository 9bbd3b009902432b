import fs from "node:fs";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { loadValidRules, runRules, selectRules } from "../../src/runs/runner.ts";
import { seedWorkspace } from "../../src/seed/seed-workspace.ts";
import { useApi } from "../helpers/api.ts";
import { runCli } from "../helpers/cli.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { useConsole } from "./browser.ts";
import { CHROMIUM } from "./chromium.ts";

interface Claim {
  source: string;
}
interface Profile {
  tags: { name: string; claims: Claim[] }[];
}

const json = <T>(r: { json(): unknown }) => r.json() as T;

// Outside CI a machine without Chromium or Postgres skips the browser tests with a warning; CI fails instead.
const missing = !fs.existsSync(CHROMIUM)
  ? `no Chromium at ${CHROMIUM} (apt-get install chromium, or set SIGNALTAG_CHROMIUM)`
  : undefined;
if (missing && process.env.CI === "true") throw new Error(`the browser tests need Chromium: ${missing}`);
if (missing) process.stderr.write(`e2e suite skipped: ${missing}\n`);

describe.skipIf(missing !== undefined || backendUnavailable())("the web console", () => {
  const t = useTestDatabase();
  const api = useApi(t);
  const web = useConsole(t);
  let keys: { viewer: string; editor: string; admin: string };

  /** Every claim of an entity as "tag|source", sorted. */
  async function claimsOf(path: string, id: string): Promise<string[]> {
    const res = await api.call(keys.admin, { method: "GET", url: `/v1/${path}/${encodeURIComponent(id)}` });
    expect(res.statusCode).toBe(200);
    return json<Profile>(res)
      .tags.flatMap((tag) => tag.claims.map((c) => `${tag.name}|${c.source}`))
      .sort();
  }

  beforeAll(async () => {
    const asOf = new Date();
    await seedWorkspace(
      t.database,
      { accounts: 12, users: 90, days: 40, seed: 7, asOf },
      { timezone: "UTC" },
    );
    const rules = await loadValidRules("rules");
    await runRules(t.database.db, rules, selectRules(rules, []), {
      asOf,
      timezone: "UTC",
      trigger: "manual",
      removalGuard: 0.5,
    });
    keys = await api.createKeys();
  });

  async function openUserByName(page: Page, name: string, id: string): Promise<void> {
    const search = page.getByRole("combobox", { name: "Search" });
    await search.fill(name.slice(0, 6));
    await page.getByRole("option").filter({ hasText: id }).waitFor();
    // Keyboard only: down to the user's suggestion, Enter to open it.
    const options = await page.getByRole("option").allTextContents();
    const index = options.findIndex((o) => o.includes(id));
    for (let i = 0; i <= index; i++) await search.press("ArrowDown");
    await search.press("Enter");
    await page.getByRole("heading", { level: 1, name }).waitFor();
  }

  it("tags a user by hand through the profile's Tags widget: existing tag by keyboard, a new one with Enter, a removal, one Save", async () => {
    // A user with a tag to remove and another entity holding the existing tag to pick.
    const users = json<{ rows: { id: string; name: string }[] }>(
      await api.call(keys.admin, { method: "GET", url: "/v1/segments/users?limit=2" }),
    ).rows;
    const [user, other] = users as [{ id: string; name: string }, { id: string; name: string }];
    for (const [id, tag] of [
      [other.id, "Champion"],
      [other.id, "Escalated"],
      [user.id, "to-remove"],
    ]) {
      const res = await api.call(keys.admin, {
        method: "POST",
        url: `/v1/users/${id}/tags`,
        payload: { tag },
      });
      expect(res.statusCode).toBe(200);
    }
    const before = await claimsOf("users", user.id);

    const page = await web.page();
    await web.shot(page, "01-sign-in");
    await web.signIn(page, keys.editor);
    await openUserByName(page, user.name, user.id);

    const tags = page.getByRole("region", { name: "Tags" });
    const add = tags.getByRole("combobox", { name: "Add tag" });
    await add.fill("cham");
    await tags.getByRole("option", { name: "Champion" }).waitFor();
    await add.press("ArrowDown");
    await add.press("Enter");
    await add.fill("Renewal call booked");
    await add.press("Enter");
    // Escape closes the suggestions first, then clears the text.
    await add.fill("esc");
    await tags.getByRole("option", { name: "Escalated" }).waitFor();
    await add.press("Escape");
    await tags.getByRole("option", { name: "Escalated" }).waitFor({ state: "hidden" });
    await expect(add.inputValue()).resolves.toBe("esc");
    await add.press("Escape");
    await expect(add.inputValue()).resolves.toBe("");
    await tags.getByRole("button", { name: "Remove tag to-remove" }).click();
    await web.shot(page, "02-profile-user-editing");
    await tags.getByRole("button", { name: "Save" }).click();
    await tags.getByRole("status").filter({ hasText: "Saved 3 changes." }).waitFor();
    await page
      .getByRole("listitem")
      .filter({ hasText: "Renewal call booked" })
      .filter({ hasText: "gained" })
      .waitFor();
    await web.shot(page, "03-profile-user-saved");

    const after = await claimsOf("users", user.id);
    const expected = [
      ...before.filter((c) => !c.startsWith("to-remove|")),
      "Champion|manual",
      "Renewal call booked|manual",
    ].sort();
    expect(after).toEqual(expected);
    const history = json<{ entries: { tag: string; action: string; source: string; actor: string }[] }>(
      await api.call(keys.admin, { method: "GET", url: `/v1/users/${user.id}/history?limit=3` }),
    ).entries;
    expect(history.map((e) => `${e.tag}|${e.action}|${e.source}|${e.actor}`).sort()).toEqual(
      [
        "Champion|added|manual|editor-key",
        "Renewal call booked|added|manual|editor-key",
        "to-remove|removed|manual|editor-key",
      ].sort(),
    );
    // The page shows what the server now holds.
    await tags.getByText("Renewal call booked").first().waitFor();
    await expect(tags.getByRole("button", { name: "Remove tag to-remove" }).count()).resolves.toBe(0);

    // The account's profile, the tags page and phone width, for the screenshots.
    const profile = json<{ accountId: string }>(
      await api.call(keys.admin, { method: "GET", url: `/v1/users/${user.id}` }),
    );
    await page.goto(`${web.url}/#/accounts/${profile.accountId}`);
    await page.getByRole("region", { name: "Tags" }).waitFor();
    await page.getByText(/Active on \d+ of the last 30 days/).waitFor();
    await page.getByText("Loading the history…").waitFor({ state: "hidden" });
    await web.shot(page, "04-profile-account");
    await page.goto(`${web.url}/#/tags/Champion`);
    await page.getByLabel("Entities").selectOption("users");
    await page.getByRole("link", { name: other.id }).waitFor();
    await web.shot(page, "05-tags");
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${web.url}/#/users/${user.id}`);
    await page.getByRole("region", { name: "Tags" }).waitFor();
    await page.getByText("Loading the history…").waitFor({ state: "hidden" });
    await web.shot(page, "06-profile-phone");
  });

  it("suppresses a rule's tag on a user until a date, then lifts the suppression", async () => {
    const user = json<{ rows: { id: string }[] }>(
      await api.call(keys.admin, {
        method: "GET",
        url: "/v1/segments/users?taggedWith=inactive%20user&limit=1",
      }),
    ).rows[0]!;
    const page = await web.page();
    await web.signIn(page, keys.editor);
    await page.goto(`${web.url}/#/users/${user.id}`);
    await page
      .getByLabel("Rule tag to suppress")
      .selectOption({ label: "inactive user (rule inactive-user)" });
    await page.getByLabel("Until (optional)").fill("2030-01-31");
    await page.getByRole("button", { name: "Suppress", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "no longer tags this" }).waitFor();
    const suppressions = json<{ tag: string; ruleId: string; until: string }[]>(
      await api.call(keys.viewer, { method: "GET", url: `/v1/users/${user.id}/suppressions` }),
    );
    expect(suppressions).toMatchObject([
      { tag: "inactive user", ruleId: "inactive-user", until: "2030-01-31T23:59:59.000Z" },
    ]);
    expect((await claimsOf("users", user.id)).filter((c) => c.startsWith("inactive user|"))).toEqual([]);
    await page.getByRole("button", { name: "Lift suppression of inactive user" }).waitFor();
    await web.shot(page, "15-profile-suppressed");
    await page.getByRole("button", { name: "Lift suppression of inactive user" }).click();
    await page.getByRole("status").filter({ hasText: "Lifted" }).waitFor();
    const after = json<unknown[]>(
      await api.call(keys.viewer, { method: "GET", url: `/v1/users/${user.id}/suppressions` }),
    );
    expect(after).toEqual([]);
  });

  it("shows a viewer no edit controls, and the server refuses an edit forged from the page with 403", async () => {
    const page = await web.page();
    await web.signIn(page, keys.viewer);
    const user = json<{ rows: { id: string }[] }>(
      await api.call(keys.admin, { method: "GET", url: "/v1/segments/users?limit=1" }),
    ).rows[0]!;
    await page.goto(`${web.url}/#/users/${user.id}`);
    const tags = page.getByRole("region", { name: "Tags" });
    await tags.waitFor();
    await page.getByRole("heading", { name: "History" }).waitFor();
    await expect(tags.getByRole("combobox", { name: "Add tag" }).count()).resolves.toBe(0);
    await expect(page.getByRole("button", { name: "Save" }).count()).resolves.toBe(0);
    await expect(page.getByRole("button", { name: /^Remove tag / }).count()).resolves.toBe(0);
    const before = await claimsOf("users", user.id);
    const forged = await page.evaluate(async (id) => {
      // Runs in the page: the key the console keeps in its tab's session storage.
      const storage = (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } })
        .sessionStorage;
      const key = storage.getItem("signaltag.key");
      const res = await fetch(`/v1/users/${encodeURIComponent(id)}/tags`, {
        method: "PATCH",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ add: ["forged"] }),
      });
      return { status: res.status, body: (await res.json()) as { error: { code: string } } };
    }, user.id);
    expect(forged.status).toBe(403);
    expect(forged.body.error.code).toBe("forbidden");
    expect(await claimsOf("users", user.id)).toEqual(before);
    await web.shot(page, "07-profile-viewer");
  });

  it("counts and pages a segment as the API does, and bulk-tags exactly that many", async () => {
    const page = await web.page();
    await web.signIn(page, keys.admin);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Segments" }).click();
    await page.getByLabel("Entities").selectOption("users");
    const taggedWith = page.getByRole("combobox", { name: "Tagged with" });
    await taggedWith.fill("inactive user");
    await taggedWith.press("Enter");
    const notTagged = page.getByRole("combobox", { name: "Is not tagged" });
    await notTagged.fill("power users");
    await notTagged.press("Enter");
    await page.getByRole("button", { name: "Show segment" }).click();
    const count = page.getByLabel("Segment count");
    await count.filter({ hasText: /^\d+$/ }).waitFor();
    const countText = await count.textContent();
    const shownIds = await page
      .getByRole("table", { name: "Segment members" })
      .locator("tbody tr td:first-child")
      .allTextContents();

    const body = { taggedWith: ["inactive user"], notTagged: ["power users"], match: "all", limit: 50 };
    const fromApi = json<{ count: number; rows: { id: string }[] }>(
      await api.call(keys.viewer, { method: "POST", url: "/v1/segments/users/query", payload: body }),
    );
    expect(fromApi.count).toBeGreaterThan(0);
    expect(Number(countText)).toBe(fromApi.count);
    expect(shownIds).toEqual(fromApi.rows.map((r) => r.id));
    await web.shot(page, "08-segments");
    const [csv] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export CSV" }).click(),
    ]);
    const lines = fs
      .readFileSync((await csv.path())!, "utf8")
      .trim()
      .split("\n");
    expect(lines.length - 1).toBe(fromApi.count);

    await page.getByRole("button", { name: "Bulk tag or untag…" }).click();
    await page.getByLabel("Bulk tag name").fill("winback-e2e");
    await page.getByRole("button", { name: "Apply to segment…" }).click();
    const confirm = page.getByRole("alertdialog");
    await expect(confirm.textContent()).resolves.toContain(`to ${fromApi.count} users`);
    await web.shot(page, "09-segments-bulk-confirm");
    await confirm.getByRole("button", { name: `Tag ${fromApi.count} users` }).click();
    await page.getByRole("status").filter({ hasText: "Tagged" }).waitFor();

    const tagged = json<{ count: number; rows: { id: string }[] }>(
      await api.call(keys.viewer, {
        method: "POST",
        url: "/v1/segments/users/query",
        payload: { taggedWith: ["winback-e2e"], limit: 1000 },
      }),
    );
    expect(tagged.count).toBe(fromApi.count);
    const segmentIds = json<{ rows: { id: string }[] }>(
      await api.call(keys.viewer, {
        method: "POST",
        url: "/v1/segments/users/query",
        payload: { ...body, limit: 1000 },
      }),
    ).rows.map((r) => r.id);
    expect(tagged.rows.map((r) => r.id)).toEqual(segmentIds);
    await page.setViewportSize({ width: 390, height: 844 });
    await web.shot(page, "12-segments-phone");
  });

  it("previews a rule with the same counts as signaltag run --dry-run", async () => {
    // Some of the rule's tags removed by hand: the preview has something to add back.
    const members = json<{ ids: string[] }>(
      await api.call(keys.admin, { method: "GET", url: "/v1/tags/power%20users/users?limit=3" }),
    ).ids;
    expect(members.length).toBeGreaterThan(0);
    const bulk = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/tags/bulk",
      payload: { action: "remove", entityType: "user", tag: "power users", ids: members },
    });
    expect(bulk.statusCode).toBe(200);

    const page = await web.page();
    await web.signIn(page, keys.admin);
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Rules and runs" })
      .click();
    await page.getByRole("button", { name: "Power users" }).click();
    await page.getByRole("button", { name: "Preview power-users" }).click();
    const result = page.getByRole("group", { name: "Preview result" });
    await result.waitFor();
    const added = Number(await result.getByTestId("preview-added").textContent());
    const removed = Number(await result.getByTestId("preview-removed").textContent());
    await web.shot(page, "10-rules-preview");

    const cli = await runCli(t.database, ["run", "--rule", "power-users", "--dry-run", "--json"]);
    expect(cli.code).toBe(0);
    const fromCli = JSON.parse(cli.stdout.trim().split("\n").pop()!) as { added: number; removed: number };
    expect({ added, removed }).toEqual({ added: fromCli.added, removed: fromCli.removed });
    expect(added).toBe(members.length);
    await page.getByRole("heading", { name: "Recent runs" }).scrollIntoViewIfNeeded();
    await web.shot(page, "11-rules-runs");
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("heading", { name: "Rules", exact: true }).scrollIntoViewIfNeeded();
    await web.shot(page, "13-rules-phone");
  });

  it("lists a run the removal guard held, with its reason, and lets an admin force the rule's run", async () => {
    // A year on, nobody has been active: the run would remove every power user's tag, so it is held.
    const later = new Date(Date.now() + 365 * 86_400_000).toISOString();
    const held = await api.call(keys.admin, {
      method: "POST",
      url: "/v1/runs",
      payload: { rules: ["power-users"], asOf: later, full: true },
    });
    expect((held.json() as { results: { status: string }[] }).results[0]!.status).toBe("held");

    const page = await web.page();
    await web.signIn(page, keys.admin);
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Rules and runs" })
      .click();
    const heldRuns = page.getByRole("region", { name: "Held runs" });
    await heldRuns.getByRole("row").filter({ hasText: "power-users" }).waitFor();
    await expect(heldRuns.textContent()).resolves.toMatch(/remove/);
    await web.shot(page, "14-rules-held");
    await heldRuns.getByRole("button", { name: "Force run power-users" }).click();
    await heldRuns
      .getByRole("status")
      .filter({ hasText: /^Forced run applied/ })
      .waitFor();
    const runs = json<{
      runs: { ruleId: string; status: string; forced: boolean; asOf: string; removed: number }[];
    }>(await api.call(keys.viewer, { method: "GET", url: "/v1/runs?rule=power-users&limit=2" })).runs;
    // The held run let through: same instant, the removals it was held for.
    expect(runs[0]).toMatchObject({
      status: "applied",
      forced: true,
      asOf: runs[1]!.asOf,
      removed: runs[1]!.removed,
    });
    expect(runs[1]).toMatchObject({ status: "held" });
  });
});
