import { type FormEvent, useState } from "react";
import { download, enc, type Role, sendJson } from "../api.ts";
import { ErrorNote, Show, useLoad, when } from "../components/async.tsx";
import { TagPicker } from "../components/tag-picker.tsx";
import { type SegmentSpec, segmentBody } from "../segment-spec.ts";
import { BulkTag } from "./segment-bulk.tsx";

interface Row {
  id: string;
  name: string | null;
  email?: string | null;
  accountId?: string;
  contractStatus?: string | null;
  health?: string | null;
  createdAt?: string;
  provisionedAt?: string;
  tags: string[];
}
interface Page {
  count?: number;
  rows: Row[];
  nextCursor: string | null;
  unknownTags?: string[];
}

function Results({ spec, role }: { spec: SegmentSpec; role: Role }) {
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  // The page and the count are two requests at once: counting a segment of half a million
  // takes longer than finding its first rows, and the table need not wait for it.
  const [page, reload] = useLoad(
    () =>
      sendJson<Page>("POST", `/v1/segments/${spec.path}/query`, {
        ...segmentBody(spec),
        limit: 50,
        count: false,
        ...(cursor ? { cursor } : {}),
      }),
    [cursor],
  );
  const [counted, recount] = useLoad(
    () =>
      sendJson<Page>("POST", `/v1/segments/${spec.path}/query`, { ...segmentBody(spec), limit: 1 }).then(
        (r) => r.count ?? 0,
      ),
    [],
  );
  const [exportError, setExportError] = useState<Error | null>(null);
  const csv = () => {
    const q = new URLSearchParams({ match: spec.match, format: "csv" });
    for (const t of spec.taggedWith) q.append("taggedWith", t);
    for (const t of spec.notTagged) q.append("notTagged", t);
    if (spec.conditions !== undefined) q.set("conditions", JSON.stringify(spec.conditions));
    setExportError(null);
    download(`/v1/segments/${spec.path}?${q}`, `segment-${spec.path}.csv`).catch(setExportError);
  };
  return (
    <Show loaded={page} what="the segment">
      {(p) => {
        const total = counted.state === "done" ? counted.value : undefined;
        return (
          <section className="card" aria-labelledby="results-h">
            <h2 id="results-h">
              <output aria-label="Segment count">{total ?? (counted.state === "error" ? "?" : "…")}</output>{" "}
              {spec.path}
            </h2>
            {p.unknownTags && p.unknownTags.length > 0 && (
              <p className="note">No tag is named {p.unknownTags.map((t) => `“${t}”`).join(", ")}.</p>
            )}
            <div className="row">
              <button type="button" className="quiet" onClick={csv}>
                Export CSV
              </button>
              {role === "admin" && total !== undefined && (
                <BulkTag
                  spec={spec}
                  count={total}
                  onDone={() => {
                    setCursors([]);
                    reload();
                    recount();
                  }}
                />
              )}
            </div>
            {counted.state === "error" && <ErrorNote error={counted.error} what="count the segment" />}
            {exportError && <ErrorNote error={exportError} what="export the segment" />}
            <div className="table-wrap">
              <table aria-label="Segment members">
                <thead>
                  <tr>
                    <th scope="col">Id</th>
                    <th scope="col">Name</th>
                    <th scope="col">{spec.path === "users" ? "Email" : "Contract"}</th>
                    <th scope="col">{spec.path === "users" ? "Created" : "Provisioned"}</th>
                    <th scope="col">Tags</th>
                  </tr>
                </thead>
                <tbody>
                  {p.rows.map((r) => (
                    <tr key={r.id}>
                      <td>
                        <a href={`#/${spec.path}/${enc(r.id)}`}>{r.id}</a>
                      </td>
                      <td>{r.name ?? "—"}</td>
                      <td>{spec.path === "users" ? (r.email ?? "—") : (r.contractStatus ?? "—")}</td>
                      <td>{when(r.createdAt ?? r.provisionedAt)}</td>
                      <td>{r.tags.join(", ")}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div className="row">
              {cursors.length > 0 && (
                <button type="button" className="quiet" onClick={() => setCursors(cursors.slice(0, -1))}>
                  Previous page
                </button>
              )}
              {p.nextCursor && (
                <button
                  type="button"
                  className="quiet"
                  onClick={() => setCursors([...cursors, p.nextCursor!])}
                >
                  Next page
                </button>
              )}
            </div>
          </section>
        );
      }}
    </Show>
  );
}

export function SegmentsPage({ role }: { role: Role }) {
  const [path, setPath] = useState<"accounts" | "users">("users");
  const [taggedWith, setTaggedWith] = useState<string[]>([]);
  const [notTagged, setNotTagged] = useState<string[]>([]);
  const [match, setMatch] = useState<"all" | "any">("all");
  const [conditions, setConditions] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [spec, setSpec] = useState<SegmentSpec | null>(null);
  const [round, setRound] = useState(0);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    let parsed: unknown;
    if (conditions.trim() !== "") {
      try {
        parsed = JSON.parse(conditions);
      } catch (err) {
        setProblem(`Conditions are not valid JSON: ${(err as Error).message}`);
        return;
      }
    }
    setProblem(null);
    setSpec({ path, taggedWith, notTagged, match, conditions: parsed });
    setRound((r) => r + 1);
  };
  return (
    <div className="segments">
      <h1>Segments</h1>
      <form className="card builder" onSubmit={submit} aria-label="Segment builder">
        <div className="row">
          <label>
            Entities{" "}
            <select value={path} onChange={(e) => setPath(e.target.value as "accounts" | "users")}>
              <option value="users">users</option>
              <option value="accounts">accounts</option>
            </select>
          </label>
          <label>
            Match{" "}
            <select value={match} onChange={(e) => setMatch(e.target.value as "all" | "any")}>
              <option value="all">all of the tests</option>
              <option value="any">any of the tests</option>
            </select>
          </label>
        </div>
        <div className="row wrap">
          <TagPicker label="Tagged with" value={taggedWith} onChange={setTaggedWith} />
          <TagPicker label="Is not tagged" value={notTagged} onChange={setNotTagged} />
        </div>
        <label className="block">
          Conditions (optional, the rule condition format)
          <textarea
            rows={3}
            value={conditions}
            onChange={(e) => setConditions(e.target.value)}
            placeholder='{"all":[{"fact":"activeDays","params":{"days":30},"operator":"greaterThanInclusive","value":10}]}'
          />
        </label>
        <button type="submit">Show segment</button>
        {problem && (
          <p role="alert" className="error">
            {problem}
          </p>
        )}
      </form>
      {spec && <Results key={round} spec={spec} role={role} />}
    </div>
  );
}
