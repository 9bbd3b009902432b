import type { Command } from "commander";
import { InputError } from "../errors/index.ts";
import { parseInstant } from "../facts/time.ts";
import { openQueues } from "../jobs/connection.ts";
import { enqueueWebhookDrain } from "../jobs/deliver-webhooks.ts";
import {
  deliveryOptions,
  listDeliveries,
  parseDeliveryId,
  pingSubscription,
  replayDeliveries,
} from "../webhooks/deliveries.ts";
import {
  createSubscription,
  listSubscriptions,
  parseSubscriptionId,
  removeSubscription,
  type Subscription,
  setSubscriptionEnabled,
} from "../webhooks/subscriptions.ts";
import { cliActor } from "./actor.ts";
import type { CliContext } from "./context.ts";
import { table } from "./format.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

function whole(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()))
    throw new InputError(`${flag} must be a whole number, not ${JSON.stringify(value)}`);
  return Number(value);
}

function filters(s: Subscription): string {
  const parts = [
    s.tags ? `tags ${s.tags.join(", ")}` : "",
    s.entityType ? `${s.entityType}s` : "",
    s.sources ? `sources ${s.sources.join(", ")}` : "",
  ].filter(Boolean);
  return parts.join("; ") || "-";
}

/** With a queue, workers send what was just made due; say so, and have one look now. */
async function nudgeWorkers(ctx: CliContext): Promise<void> {
  if (!ctx.config.redisUrl) {
    ctx.stderr.write("note: no REDIS_URL: deliveries go out from `signaltag serve`\n");
    return;
  }
  const queues = await openQueues(ctx.config, "webhooks replay");
  try {
    await enqueueWebhookDrain(queues);
  } finally {
    await queues.close();
  }
}

export function registerWebhooksCommands(program: Command, ctx: CliContext): void {
  const hooks = program
    .command("webhooks")
    .description(
      "Webhook subscriptions: tag.added and tag.removed sent to a URL, signed (Standard Webhooks).",
    );
  hooks
    .command("add")
    .description("Subscribe a URL to tag changes; prints the id and the signing secret, shown this once.")
    .requiredOption("--url <url>", "where to POST (http or https)")
    .option("--event <event>", "tag.added or tag.removed (repeatable; default both)", collect, [])
    .option("--tag <tag>", "only changes of this tag (repeatable)", collect, [])
    .option("--type <type>", "only users or only accounts: user|account")
    .option(
      "--source <source>",
      "only changes by rule, manual, bulk, file or rule:<id> (repeatable)",
      collect,
      [],
    )
    .option(
      "--max-in-flight <n>",
      "requests in flight at once for this subscription, per worker process (default 32)",
    )
    .option("--rate <n>", "at most this many requests a second, across every worker")
    .option("--json", "print one JSON object: the subscription and its secret")
    .action(
      async (opts: {
        url: string;
        event: string[];
        tag: string[];
        type?: string;
        source: string[];
        maxInFlight?: string;
        rate?: string;
        json?: boolean;
      }) => {
        const database = await ctx.database();
        const { subscription, secret } = await createSubscription(database.db, {
          url: opts.url,
          events: opts.event,
          tags: opts.tag,
          entityType: opts.type,
          sources: opts.source,
          maxInFlight: whole(opts.maxInFlight, "--max-in-flight"),
          ratePerSecond: whole(opts.rate, "--rate"),
          actor: cliActor(undefined),
        });
        if (opts.json) {
          ctx.stdout.write(`${JSON.stringify({ ...subscription, secret })}\n`);
        } else {
          ctx.stdout.write(`id ${subscription.id}\nsecret ${secret}\n`);
        }
        ctx.stderr.write(
          "store the secret now: it is not shown again; receivers verify signatures with it\n",
        );
      },
    );
  hooks
    .command("list")
    .description("Every subscription: id, URL, events, filters, enabled.")
    .option("--json", "print one JSON array")
    .action(async (opts: { json?: boolean }) => {
      const database = await ctx.database();
      const list = await listSubscriptions(database.db);
      if (opts.json) return void ctx.stdout.write(`${JSON.stringify(list)}\n`);
      if (list.length === 0)
        return void ctx.stdout.write("no webhook subscriptions: signaltag webhooks add --url URL\n");
      ctx.stdout.write(
        table(
          ["id", "url", "events", "filters", "status"],
          list.map((s) => [
            s.id,
            s.url,
            s.events.join(", "),
            filters(s),
            s.enabled ? "enabled" : `disabled${s.disabledReason ? ` (${s.disabledReason})` : ""}`,
          ]),
        ),
      );
    });
  for (const enabled of [false, true]) {
    hooks
      .command(enabled ? "enable" : "disable")
      .description(
        enabled
          ? "Send a subscription's deliveries again, those that waited included."
          : "Stop sending a subscription's deliveries; changes made while it is disabled queue none for it.",
      )
      .argument("<id>", "the subscription's id")
      .action(async (raw: string) => {
        const database = await ctx.database();
        const s = await setSubscriptionEnabled(
          database.db,
          parseSubscriptionId(raw),
          enabled,
          "disabled by hand",
        );
        ctx.stdout.write(`${enabled ? "enabled" : "disabled"} webhook ${s.id} (${s.url})\n`);
      });
  }
  hooks
    .command("remove")
    .description("Delete a subscription and its deliveries.")
    .argument("<id>", "the subscription's id")
    .action(async (raw: string) => {
      const database = await ctx.database();
      const id = parseSubscriptionId(raw);
      const { deliveries } = await removeSubscription(database.db, id);
      ctx.stdout.write(
        `removed webhook ${id} and its ${deliveries} deliver${deliveries === 1 ? "y" : "ies"}\n`,
      );
    });
  hooks
    .command("test")
    .description("Send a signed ping to a subscription now and say how it answered.")
    .argument("<id>", "the subscription's id")
    .action(async (raw: string) => {
      const database = await ctx.database();
      const r = await pingSubscription(database.db, parseSubscriptionId(raw), deliveryOptions(ctx.config));
      if (!r.ok) {
        throw new InputError(
          `ping ${r.webhookId} was not delivered: ${r.error}; it is retried like any delivery (signaltag webhooks deliveries ${raw})`,
        );
      }
      ctx.stdout.write(`ping ${r.webhookId} delivered (HTTP ${r.status})\n`);
    });
  hooks
    .command("deliveries")
    .description("A subscription's deliveries, newest first: status, attempts, last answer.")
    .argument("<id>", "the subscription's id")
    .option("--failed", "only those given up (replay them with signaltag webhooks replay)")
    .option("--limit <n>", "at most this many (default 100)")
    .option("--json", "print one JSON array")
    .action(async (raw: string, opts: { failed?: boolean; limit?: string; json?: boolean }) => {
      const database = await ctx.database();
      const list = await listDeliveries(database.db, {
        subscriptionId: parseSubscriptionId(raw),
        failed: opts.failed,
        limit: whole(opts.limit, "--limit"),
      });
      if (opts.json) return void ctx.stdout.write(`${JSON.stringify(list)}\n`);
      if (list.length === 0) return void ctx.stdout.write(`no ${opts.failed ? "failed " : ""}deliveries\n`);
      ctx.stdout.write(
        table(
          ["id", "type", "entity", "tag", "status", "attempts", "last answer", "created"],
          list.map((d) => [
            d.id,
            d.type,
            d.entityId ? `${d.entityType} ${d.entityId}` : "-",
            d.tag ?? "-",
            d.status,
            d.attempts,
            d.lastStatus ? `HTTP ${d.lastStatus}` : (d.lastError ?? "-"),
            d.createdAt,
          ]),
        ),
      );
    });
  hooks
    .command("replay")
    .description("Send a delivery again (same webhook-id), or every failed one since a time.")
    .argument("[delivery-id]", "the delivery's id (see webhooks deliveries)")
    .option("--since <instant>", "every failed delivery created at or after this ISO-8601 instant")
    .option("--subscription <id>", "with --since: only this subscription's")
    .action(async (raw: string | undefined, opts: { since?: string; subscription?: string }) => {
      if ((raw === undefined) === (opts.since === undefined)) {
        throw new InputError("give a delivery id or --since INSTANT (one of the two)");
      }
      const database = await ctx.database();
      let ids: number[];
      if (raw !== undefined) {
        ids = await replayDeliveries(database.db, { id: parseDeliveryId(raw) });
      } else {
        const since = parseInstant(opts.since!);
        if (!since) throw new InputError(`--since ${JSON.stringify(opts.since)} is not an ISO-8601 instant`);
        const subscriptionId =
          opts.subscription === undefined ? undefined : parseSubscriptionId(opts.subscription);
        ids = await replayDeliveries(database.db, { since, subscriptionId });
      }
      ctx.stdout.write(`${ids.length} deliver${ids.length === 1 ? "y" : "ies"} queued again\n`);
      if (ids.length > 0) await nudgeWorkers(ctx);
    });
}
