import type { Job } from "bullmq";
import { sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { rows } from "../../src/db/client.ts";
import type { QueueSet } from "../../src/jobs/connection.ts";
import { evaluatePartitionJob, evaluatePartitionPayload } from "../../src/jobs/evaluate-partition.ts";
import { processRunJob } from "../../src/jobs/run-job.ts";
import type { RunProgress } from "../../src/jobs/run-payload.ts";
import { backendUnavailable, useTestDatabase } from "../helpers/db.ts";
import { addAccount, addUser, powerUsersRule, rulesDir } from "../helpers/workspace.ts";

/** A run job as a worker holds it: its payload, saved progress and the waiting for partitions. */
function fakeJob(data: Record<string, unknown>) {
  const saved: RunProgress[] = [];
  let waits = 0;
  const job = {
    id: "job-1",
    queueQualifiedName: "bull:rules",
    data,
    async updateData(next: { progress: RunProgress }) {
      saved.push(next.progress);
      job.data = next;
    },
    async moveToWaitingChildren() {
      waits++;
      return false;
    },
  };
  return { job: job as unknown as Job, saved, waits: () => waits };
}

describe.skipIf(backendUnavailable())("a run job picked up again", () => {
  const t = useTestDatabase();

  beforeEach(async () => {
    await t.reset();
    await addAccount(t.database, { id: "acc-1" });
    for (const id of ["u1", "u2", "u3"]) await addUser(t.database, { id, accountId: "acc-1" });
  });

  it("runs its other rules when the rule whose partitions it waited for was removed meanwhile", async () => {
    const dir = rulesDir([powerUsersRule()]);
    // Partitions of two users: power-users fans out too.
    const config = loadConfig({
      SIGNALTAG_RULES_DIR: dir,
      SIGNALTAG_TIMEZONE: "UTC",
      SIGNALTAG_PARTITION_SIZE: "2",
    });
    const deps = { db: t.database.db, config, runConcurrency: 1 } as const;
    // The partition jobs a worker would run, run as they are queued.
    // A resumed job asks which of its partitions Redis already has (getJob) and queues only the others.
    const queued = new Set<string>();
    const partitions = {
      async getJob(id: string) {
        return queued.has(id) ? { id } : undefined;
      },
      async addBulk(jobs: { data: unknown; opts?: { jobId?: string } }[]) {
        for (const j of jobs) {
          if (j.opts?.jobId) queued.add(j.opts.jobId);
          const payload = evaluatePartitionPayload.parse(j.data);
          await evaluatePartitionJob.handle(payload, {} as Job, undefined, {
            ...deps,
            queues: {} as QueueSet,
          });
        }
      },
    };
    const progress: RunProgress = {
      runKey: "run-1",
      asOf: "2026-03-31T12:00:00.000Z",
      results: [],
      pending: { ruleId: "gone", runKey: "run-1.gone", partitions: 2 },
    };
    const { job, saved, waits } = fakeJob({ trigger: "schedule", progress });
    const result = await processRunJob(
      job,
      "token",
      { ...deps, queues: { partitions } as unknown as QueueSet },
      { ruleIds: [], trigger: "schedule", progress },
    );
    expect(result.results.map((r) => [r.rule, r.status, r.evaluated])).toEqual([
      ["power-users", "applied", 3],
    ]);
    // It fanned out (no wait: the partitions were done as they were queued) and was applied as one run.
    expect(waits()).toBe(2);
    expect(saved.at(-1)?.pending).toBeUndefined();
    const recorded = await rows(
      t.database.db,
      sql`select rule_id, status, (details->>'partitions')::int as partitions from rule_runs`,
    );
    expect(recorded).toEqual([{ rule_id: "power-users", status: "applied", partitions: 2 }]);
  });
});
