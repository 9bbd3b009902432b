import { type FormEvent, useState } from "react";
import { enc, getJson } from "../api.ts";
import { Show, useLoad } from "../components/async.tsx";

interface TagCount {
  name: string;
  accounts: number;
  users: number;
}
interface Members {
  ids: string[];
  asOf: string | null;
  nextCursor: string | null;
}

function MembersOf({ tag }: { tag: string }) {
  const [type, setType] = useState<"accounts" | "users">("accounts");
  const [asOfInput, setAsOfInput] = useState("");
  const [asOf, setAsOf] = useState("");
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const [page] = useLoad(
    () =>
      getJson<Members>(
        `/v1/tags/${enc(tag)}/${type}?limit=50${asOf ? `&asOf=${enc(asOf)}` : ""}${cursor ? `&cursor=${enc(cursor)}` : ""}`,
      ),
    [tag, type, asOf, cursor],
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setCursors([]);
    setAsOf(asOfInput);
  };
  return (
    <section className="card" aria-labelledby="members-h">
      <h2 id="members-h">Members of “{tag}”</h2>
      <form className="row" onSubmit={submit}>
        <label>
          Entities{" "}
          <select
            value={type}
            onChange={(e) => {
              setCursors([]);
              setType(e.target.value as "accounts" | "users");
            }}
          >
            <option value="accounts">accounts</option>
            <option value="users">users</option>
          </select>
        </label>
        <label>
          As of (empty: now){" "}
          <input type="date" value={asOfInput} onChange={(e) => setAsOfInput(e.target.value)} />
        </label>
        <button type="submit">Show</button>
      </form>
      <Show loaded={page} what="members">
        {(m) => (
          <>
            <p className="muted">{m.asOf ? `As of ${m.asOf}` : "Now"}</p>
            {m.ids.length === 0 ? (
              <p className="muted">
                No {type} {m.asOf ? "had" : "have"} this tag.
              </p>
            ) : (
              <ul className="id-list">
                {m.ids.map((id) => (
                  <li key={id}>
                    <a href={`#/${type}/${enc(id)}`}>{id}</a>
                  </li>
                ))}
              </ul>
            )}
            <div className="row">
              {cursors.length > 0 && (
                <button type="button" className="quiet" onClick={() => setCursors(cursors.slice(0, -1))}>
                  Previous page
                </button>
              )}
              {m.nextCursor && (
                <button
                  type="button"
                  className="quiet"
                  onClick={() => setCursors([...cursors, m.nextCursor!])}
                >
                  Next page
                </button>
              )}
            </div>
          </>
        )}
      </Show>
    </section>
  );
}

export function TagsPage({ selected }: { selected?: string }) {
  const [tags] = useLoad(() => getJson<TagCount[]>("/v1/tags"), []);
  return (
    <div className="columns">
      <section className="card" aria-labelledby="tags-h">
        <h1 id="tags-h">Tags</h1>
        <Show loaded={tags} what="tags">
          {(list) =>
            list.length === 0 ? (
              <p className="muted">No tags yet: a rule, a person or a file makes one on first use.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Tag</th>
                    <th scope="col" className="num">
                      Accounts
                    </th>
                    <th scope="col" className="num">
                      Users
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((t) => (
                    <tr key={t.name} aria-current={t.name === selected ? "true" : undefined}>
                      <td>
                        <a href={`#/tags/${enc(t.name)}`}>{t.name}</a>
                      </td>
                      <td className="num">{t.accounts}</td>
                      <td className="num">{t.users}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Show>
      </section>
      {selected ? (
        <MembersOf key={selected} tag={selected} />
      ) : (
        <p className="muted">Choose a tag to see its members.</p>
      )}
    </div>
  );
}
