import { useEffect, useMemo, useState } from "react";
import { type ApiError, enc, getJson, sendJson } from "../api.ts";
import { sourceWords, when } from "./async.tsx";
import { Combobox } from "./combobox.tsx";

export interface Claim {
  source: string;
  since: string;
  actor: string | null;
  rule?: { id: string; name?: string; because: string[] };
}
export interface ProfileTag {
  name: string;
  claims: Claim[];
}

const lower = (s: string) => s.toLocaleLowerCase();

/**
 * The Tags region of a profile: each tag with its sources and since when; for
 * editors the "Add tag" combobox and "Remove tag NAME" buttons stage changes,
 * and "Save" sends them as one request (PATCH .../tags).
 */
export function TagWidget({
  path,
  id,
  tags,
  editable,
  onSaved,
}: {
  path: "accounts" | "users";
  id: string;
  tags: ProfileTag[];
  editable: boolean;
  onSaved: () => void;
}) {
  const [adds, setAdds] = useState<string[]>([]);
  const [removes, setRemoves] = useState<string[]>([]);
  const [text, setText] = useState("");
  const [suggestions, setSuggestions] = useState<string[]>([]);
  const [state, setState] = useState<{ saving?: boolean; error?: string; saved?: string }>({});
  // The tags as the last Save answered them, until the reloaded profile (with rules' reasons) arrives.
  const [answered, setAnswered] = useState<{ over: ProfileTag[]; tags: ProfileTag[] } | null>(null);
  const shown = answered && answered.over === tags ? answered.tags : tags;

  useEffect(() => {
    if (!editable) return;
    let current = true;
    const timer = setTimeout(() => {
      getJson<{ tags: string[] }>(`/v1/search/tags?q=${enc(text.trim())}&limit=8`).then(
        (r) => current && setSuggestions(r.tags),
        () => current && setSuggestions([]),
      );
    }, 100);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [text, editable]);

  const has = useMemo(() => new Set(shown.map((t) => lower(t.name))), [shown]);
  const stage = (name: string) => {
    const n = name.trim();
    if (n === "") return;
    setText("");
    setState({});
    if (removes.some((r) => lower(r) === lower(n))) {
      setRemoves(removes.filter((r) => lower(r) !== lower(n)));
      return;
    }
    if (has.has(lower(n)) || adds.some((a) => lower(a) === lower(n))) return;
    setAdds([...adds, n]);
  };
  const unstage = (name: string) => {
    setState({});
    if (adds.includes(name)) setAdds(adds.filter((a) => a !== name));
    else if (!removes.includes(name)) setRemoves([...removes, name]);
  };
  const save = async () => {
    setState({ saving: true });
    try {
      const r = await sendJson<{ tags: ProfileTag[] }>("PATCH", `/v1/${path}/${enc(id)}/tags`, {
        add: adds,
        remove: removes,
      });
      setAnswered({ over: tags, tags: r.tags });
      const n = adds.length + removes.length;
      setAdds([]);
      setRemoves([]);
      setState({ saved: `Saved ${n} change${n === 1 ? "" : "s"}.` });
      onSaved();
    } catch (err) {
      setState({ error: `Not saved: ${(err as ApiError).message}` });
    }
  };
  const options = suggestions
    .filter((s) => !has.has(lower(s)) && !adds.some((a) => lower(a) === lower(s)))
    .map((s) => ({ key: s, label: s }));
  const pending = adds.length + removes.length;

  return (
    <section className="card tags" aria-label="Tags">
      <h2>Tags</h2>
      {shown.length === 0 && adds.length === 0 && <p className="muted">No tags.</p>}
      <ul className="tag-list">
        {shown.map((t) => {
          const removing = removes.includes(t.name);
          return (
            <li key={t.name} className={removing ? "removing" : undefined}>
              <span className="chip">{t.name}</span>
              {removing && <span className="note"> (will be removed)</span>}
              <ul className="claims">
                {t.claims.map((c) => (
                  <li key={c.source}>
                    {sourceWords(c.source)}
                    {c.rule?.name ? ` (${c.rule.name})` : ""} since {when(c.since)}
                    {c.actor ? ` by ${c.actor}` : ""}
                    {c.rule && c.rule.because.length > 0 && (
                      <span className="muted"> — {c.rule.because.join("; ")}</span>
                    )}
                  </li>
                ))}
              </ul>
              {editable && !removing && (
                <button
                  type="button"
                  className="remove"
                  aria-label={`Remove tag ${t.name}`}
                  onClick={() => unstage(t.name)}
                >
                  ×
                </button>
              )}
              {editable && removing && (
                <button
                  type="button"
                  className="quiet"
                  aria-label={`Keep tag ${t.name}`}
                  onClick={() => setRemoves(removes.filter((r) => r !== t.name))}
                >
                  Undo
                </button>
              )}
            </li>
          );
        })}
        {adds.map((a) => (
          <li key={`new-${a}`} className="adding">
            <span className="chip">{a}</span> <span className="note">(will be added by hand)</span>
            <button
              type="button"
              className="remove"
              aria-label={`Remove tag ${a}`}
              onClick={() => unstage(a)}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      {editable && (
        <div className="tag-edit">
          <Combobox
            label="Add tag"
            placeholder="Type to find a tag; Enter creates a new one"
            value={text}
            onInput={setText}
            options={options}
            onChoose={stage}
            onEnterText={stage}
          />
          <button type="button" onClick={save} disabled={pending === 0 || state.saving}>
            {state.saving ? "Saving…" : "Save"}
          </button>
          {pending > 0 && !state.saving && (
            <span className="muted">
              {pending} unsaved change{pending === 1 ? "" : "s"}
            </span>
          )}
        </div>
      )}
      {state.error && (
        <p role="alert" className="error">
          {state.error}
        </p>
      )}
      {state.saved && (
        <p role="status" className="ok">
          {state.saved}
        </p>
      )}
    </section>
  );
}
