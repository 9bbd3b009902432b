import { type FormEvent, useState } from "react";
import { enc, sendJson } from "../api.ts";
import { when } from "./async.tsx";
import type { ProfileTag } from "./tag-widget.tsx";

export interface Suppression {
  id: number;
  tag: string;
  ruleId: string | null;
  until: string | null;
  reason: string | null;
  createdBy: string | null;
}

/**
 * Suppressions in force, and for editors a form to stop a rule's tag here
 * (optionally until a date) and a button to lift one.
 */
export function Suppressions({
  path,
  id,
  tags,
  suppressions,
  editable,
  onChanged,
}: {
  path: string;
  id: string;
  tags: ProfileTag[];
  suppressions: Suppression[];
  editable: boolean;
  onChanged: () => void;
}) {
  const ruleClaims = tags.flatMap((t) =>
    t.claims
      .filter((c) => c.source.startsWith("rule:"))
      .map((c) => ({ tag: t.name, rule: c.source.slice(5) })),
  );
  const [choice, setChoice] = useState("");
  const [until, setUntil] = useState("");
  const [message, setMessage] = useState<{ error?: string; ok?: string }>({});
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const picked = ruleClaims[Number(choice)];
    if (!picked) return;
    try {
      await sendJson("POST", `/v1/${path}/${enc(id)}/suppressions`, {
        tag: picked.tag,
        rule: picked.rule,
        until: until ? new Date(`${until}T23:59:59Z`).toISOString() : null,
      });
      setMessage({
        ok: `Rule ${picked.rule} no longer tags this with "${picked.tag}"${until ? ` until ${until}` : ""}.`,
      });
      setChoice("");
      setUntil("");
      onChanged();
    } catch (err) {
      setMessage({ error: `Not suppressed: ${(err as Error).message}` });
    }
  };
  const lift = async (s: Suppression) => {
    try {
      await sendJson("DELETE", `/v1/suppressions/${s.id}`, undefined);
      setMessage({ ok: `Lifted the suppression of "${s.tag}".` });
      onChanged();
    } catch (err) {
      setMessage({ error: `Not lifted: ${(err as Error).message}` });
    }
  };
  // Nothing to show or do here, and no message to leave: the section stays out of the way.
  if (suppressions.length === 0 && (!editable || ruleClaims.length === 0) && !message.ok && !message.error) {
    return null;
  }
  return (
    <section className="card" aria-labelledby="supp-h">
      <h2 id="supp-h">Suppressed rule tags</h2>
      {suppressions.length > 0 && (
        <ul>
          {suppressions.map((s) => (
            <li key={s.id}>
              "{s.tag}" {s.ruleId ? `from rule ${s.ruleId}` : "from every rule"},{" "}
              {s.until ? `until ${when(s.until)}` : "with no end"}
              {s.createdBy ? ` (by ${s.createdBy})` : ""}{" "}
              {editable && (
                <button type="button" className="quiet" onClick={() => lift(s)}>
                  Lift suppression of {s.tag}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {editable && ruleClaims.length > 0 && (
        <form className="row" onSubmit={submit}>
          <label>
            Rule tag to suppress{" "}
            <select value={choice} onChange={(e) => setChoice(e.target.value)} required>
              <option value="">choose…</option>
              {ruleClaims.map((c, i) => (
                <option key={`${c.tag}/${c.rule}`} value={i}>
                  {c.tag} (rule {c.rule})
                </option>
              ))}
            </select>
          </label>
          <label>
            Until (optional) <input type="date" value={until} onChange={(e) => setUntil(e.target.value)} />
          </label>
          <button type="submit" disabled={choice === ""}>
            Suppress
          </button>
        </form>
      )}
      {message.error && (
        <p role="alert" className="error">
          {message.error}
        </p>
      )}
      {message.ok && (
        <p role="status" className="ok">
          {message.ok}
        </p>
      )}
    </section>
  );
}
