import { useState } from "react";
import { getJson, type Role, sendJson } from "../api.ts";
import { ErrorNote, Show, useLoad, when } from "../components/async.tsx";
import { RunPreview } from "./rule-preview.tsx";

export interface RuleStatus {
  rule: string;
  name?: string;
  description?: string;
  tag: string;
  target: "user" | "account";
  enabled: boolean;
  schedule?: { cron: string; timezone: string };
  lastRun?: { id: number; at: string; status: string; added: number; removed: number; error: string | null };
  lastSuccessAt?: string;
  nextRunAt?: string;
  stale: boolean;
  staleReason?: string;
  definition: unknown;
  words: { conditions: string[]; exitConditions?: string[] };
}
interface Run {
  id: number;
  ruleId: string;
  asOf: string;
  status: string;
  trigger: string;
  forced: boolean;
  startedAt: string;
  durationMs: number | null;
  evaluated: number;
  added: number;
  removed: number;
  error: string | null;
}

function RuleDetail({ rule, role, onRan }: { rule: RuleStatus; role: Role; onRan: () => void }) {
  const [note, setNote] = useState<{ ok?: string; error?: Error }>({});
  const runNow = async (force: boolean) => {
    setNote({ ok: `Running ${rule.rule}…` });
    try {
      const r = await sendJson<{
        queued: boolean;
        results?: { status: string; added: number; removed: number; error?: string }[];
      }>("POST", "/v1/runs", { rules: [rule.rule], force });
      const res = r.results?.[0];
      setNote({
        ok: r.queued
          ? "Queued for the workers."
          : res
            ? `Run ${res.status}: +${res.added} −${res.removed}${res.error ? ` (${res.error})` : ""}`
            : "Done.",
      });
      onRan();
    } catch (error) {
      setNote({ error: error as Error });
    }
  };
  return (
    <div className="rule-detail">
      <h3>
        {rule.name ?? rule.rule} <span className="muted small">({rule.rule})</span>
      </h3>
      {rule.description && <p>{rule.description}</p>}
      <h3>In words</h3>
      <pre className="words">{rule.words.conditions.join("\n")}</pre>
      {rule.words.exitConditions && (
        <>
          <h4>Stops when</h4>
          <pre className="words">{rule.words.exitConditions.join("\n")}</pre>
        </>
      )}
      <details>
        <summary>Rule JSON</summary>
        <pre className="json">{JSON.stringify(rule.definition, null, 2)}</pre>
      </details>
      <RunPreview rule={rule} />
      {role === "admin" && (
        <div className="row">
          <button type="button" onClick={() => runNow(false)}>
            Run {rule.rule} now
          </button>
        </div>
      )}
      {note.ok && (
        <p role="status" className="ok">
          {note.ok}
        </p>
      )}
      {note.error && <ErrorNote error={note.error} what={`run ${rule.rule}`} />}
    </div>
  );
}

function Runs({ role, round, onRan }: { role: Role; round: number; onRan: () => void }) {
  const [recent] = useLoad(() => getJson<{ runs: Run[] }>("/v1/runs?limit=20"), [round]);
  const [held] = useLoad(() => getJson<{ runs: Run[] }>("/v1/runs?status=held&limit=20"), [round]);
  const [forceNote, setForceNote] = useState<{ ok?: string; error?: Error }>({});
  // A forced run lets the held one through: the same rule as of the same instant, past the guard.
  const force = async (run: Run) => {
    try {
      const r = await sendJson<{
        queued: boolean;
        results?: { status: string; added: number; removed: number }[];
      }>("POST", "/v1/runs", { rules: [run.ruleId], force: true, asOf: run.asOf });
      const res = r.results?.[0];
      setForceNote({
        ok: r.queued ? "Forced run queued." : `Forced run ${res?.status}: +${res?.added} −${res?.removed}`,
      });
      onRan();
    } catch (error) {
      setForceNote({ error: error as Error });
    }
  };
  const table = (runs: Run[], withForce: boolean) => (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Rule</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col" className="num">
              Added
            </th>
            <th scope="col" className="num">
              Removed
            </th>
            <th scope="col">Why</th>
            {withForce && <th scope="col">Action</th>}
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id}>
              <td>{r.id}</td>
              <td>{r.ruleId}</td>
              <td>
                {r.status}
                {r.forced ? " (forced)" : ""} · {r.trigger}
              </td>
              <td>{when(r.startedAt)}</td>
              <td className="num">{r.added}</td>
              <td className="num">{r.removed}</td>
              <td>{r.error ?? ""}</td>
              {withForce && (
                <td>
                  <button type="button" onClick={() => force(r)} title={`as of ${when(r.asOf)}`}>
                    Force run {r.ruleId}
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
  return (
    <>
      <section className="card" aria-labelledby="held-h">
        <h2 id="held-h">Held runs</h2>
        <p className="muted">
          Runs the removal guard stopped: they would have removed too many of a rule's tags.
        </p>
        <Show loaded={held} what="held runs">
          {(h) =>
            h.runs.length === 0 ? <p className="muted">No held runs.</p> : table(h.runs, role === "admin")
          }
        </Show>
        {forceNote.ok && (
          <p role="status" className="ok">
            {forceNote.ok}
          </p>
        )}
        {forceNote.error && <ErrorNote error={forceNote.error} what="force the run" />}
      </section>
      <section className="card" aria-labelledby="recent-h">
        <h2 id="recent-h">Recent runs</h2>
        <Show loaded={recent} what="recent runs">
          {(r) => (r.runs.length === 0 ? <p className="muted">No run yet.</p> : table(r.runs, false))}
        </Show>
      </section>
    </>
  );
}

export function RulesPage({ role }: { role: Role }) {
  const [round, setRound] = useState(0);
  const [rules] = useLoad(
    () => getJson<{ rules: RuleStatus[]; problems: { message: string }[] }>("/v1/rules"),
    [round],
  );
  const [open, setOpen] = useState<string | null>(null);
  const ran = () => setRound((r) => r + 1);
  return (
    <div className="rules">
      <h1>Rules and runs</h1>
      <Show loaded={rules} what="rules">
        {(r) => (
          <section className="card" aria-labelledby="rules-h">
            <h2 id="rules-h">Rules</h2>
            {r.problems.length > 0 && (
              <p role="alert" className="error">
                Some rule files do not validate: {r.problems.map((p) => p.message).join("; ")}
              </p>
            )}
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Rule</th>
                    <th scope="col">Tag</th>
                    <th scope="col">Enabled</th>
                    <th scope="col">Schedule</th>
                    <th scope="col">Last run</th>
                    <th scope="col">Next run</th>
                    <th scope="col">Stale</th>
                  </tr>
                </thead>
                <tbody>
                  {r.rules.map((rule) => (
                    <tr key={rule.rule}>
                      <td>
                        <button
                          type="button"
                          className="link"
                          aria-expanded={open === rule.rule}
                          onClick={() => setOpen(open === rule.rule ? null : rule.rule)}
                        >
                          {rule.name ?? rule.rule}
                        </button>
                        <div className="muted small">{rule.rule}</div>
                      </td>
                      <td>
                        {rule.tag} <span className="muted small">({rule.target}s)</span>
                      </td>
                      <td>{rule.enabled ? "yes" : "no"}</td>
                      <td>{rule.schedule ? `${rule.schedule.cron} (${rule.schedule.timezone})` : "—"}</td>
                      <td>
                        {rule.lastRun
                          ? `${when(rule.lastRun.at)}: ${rule.lastRun.status} +${rule.lastRun.added} −${rule.lastRun.removed}`
                          : "never"}
                      </td>
                      <td>
                        {rule.nextRunAt ? when(rule.nextRunAt) : rule.schedule ? "when a worker runs" : "—"}
                      </td>
                      <td>{rule.stale ? <span className="stale">stale: {rule.staleReason}</span> : "no"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {r.rules
              .filter((rule) => rule.rule === open)
              .map((rule) => (
                <RuleDetail key={rule.rule} rule={rule} role={role} onRan={ran} />
              ))}
          </section>
        )}
      </Show>
      <Runs role={role} round={round} onRan={ran} />
    </div>
  );
}
