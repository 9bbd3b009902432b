import { useEffect, useState } from "react";
import { enc, getJson } from "../api.ts";
import { ErrorNote, Show, useLoad, when } from "./async.tsx";

interface Entry {
  kind: string;
  at: string;
  tag: string;
  action: string;
  source: string | null;
  actor: string | null;
  summary: string;
  because?: string[];
}
interface Page {
  entries: Entry[];
  nextCursor: string | null;
}

/** The entity's tag history, newest first, in the server's sentences; more pages on request. */
export function History({ path, id, round }: { path: string; id: string; round: number }) {
  const [loaded, reload] = useLoad(
    () => getJson<Page>(`/v1/${path}/${enc(id)}/history?limit=20`),
    [path, id],
  );
  // A change on the page: read the history again, keeping the current one shown meanwhile.
  useEffect(() => {
    if (round > 0) reload();
  }, [round, reload]);
  const [more, setMore] = useState<{ entries: Entry[]; cursor: string | null; error?: Error }>({
    entries: [],
    cursor: null,
  });
  return (
    <section className="card" aria-labelledby="history-h">
      <h2 id="history-h">History</h2>
      <Show loaded={loaded} what="the history">
        {(first) => {
          const entries = [...first.entries, ...more.entries];
          const cursor = more.entries.length > 0 ? more.cursor : first.nextCursor;
          return (
            <>
              {entries.length === 0 && <p className="muted">No tag has ever changed here.</p>}
              <ol className="timeline">
                {entries.map((e, i) => (
                  // Entries have no id of their own and the list only grows at its end.
                  // biome-ignore lint/suspicious/noArrayIndexKey: the position is stable
                  <li key={i}>
                    <time dateTime={e.at}>{when(e.at)}</time> <span className="chip">{e.tag}</span>{" "}
                    <span>{e.summary}</span>
                    {e.because && e.because.length > 0 && (
                      <ul className="because">
                        {e.because.map((b) => (
                          <li key={b}>{b}</li>
                        ))}
                      </ul>
                    )}
                  </li>
                ))}
              </ol>
              {more.error && <ErrorNote error={more.error} what="load more history" />}
              {cursor && (
                <button
                  type="button"
                  className="quiet"
                  onClick={() =>
                    getJson<Page>(`/v1/${path}/${enc(id)}/history?limit=50&cursor=${enc(cursor)}`).then(
                      (p) => setMore({ entries: [...more.entries, ...p.entries], cursor: p.nextCursor }),
                      (error: Error) => setMore({ ...more, error }),
                    )
                  }
                >
                  Older entries
                </button>
              )}
            </>
          );
        }}
      </Show>
    </section>
  );
}
