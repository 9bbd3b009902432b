import { useState } from "react";
import { canEdit, enc, getJson, type Role } from "../api.ts";
import { type Activity, ActivityChart } from "../components/activity-chart.tsx";
import { ErrorNote, Show, useLoad, when } from "../components/async.tsx";
import { History } from "../components/history.tsx";
import { type Suppression, Suppressions } from "../components/suppress-form.tsx";
import { type ProfileTag, TagWidget } from "../components/tag-widget.tsx";

interface UserRow {
  id: string;
  email: string | null;
  name: string | null;
  tags: string[];
}
interface Profile {
  type: "account" | "user";
  id: string;
  name: string | null;
  email?: string | null;
  accountId?: string;
  createdAt?: string;
  provisionedAt?: string;
  contractStatus?: string | null;
  renewalDate?: string | null;
  health?: string | null;
  healthScore?: number | null;
  attributes: Record<string, unknown>;
  tags: ProfileTag[];
  suppressions: Suppression[];
  userCount?: number;
  users?: UserRow[];
  usersNextCursor?: string | null;
  account?: {
    id: string;
    name: string | null;
    contractStatus: string | null;
    health: string | null;
    tags: string[];
  };
}

/** The account's users past the profile's first page, a page at a time. */
function MoreUsers({ id, cursor }: { id: string; cursor: string | null }) {
  const [pages, setPages] = useState<{ users: UserRow[]; next: string | null; error?: Error }>({
    users: [],
    next: cursor,
  });
  const more = () =>
    getJson<{ users: UserRow[]; nextCursor: string | null }>(
      `/v1/accounts/${enc(id)}/users?limit=100&cursor=${enc(pages.next ?? "")}`,
    ).then(
      (r) => setPages({ users: [...pages.users, ...r.users], next: r.nextCursor }),
      (error: Error) => setPages({ ...pages, error }),
    );
  return (
    <>
      {pages.users.length > 0 && (
        <ul className="more-users">
          {pages.users.map((u) => (
            <li key={u.id}>
              <a href={`#/users/${enc(u.id)}`}>{u.name ?? u.id}</a>{" "}
              <span className="muted small">{u.tags.join(", ")}</span>
            </li>
          ))}
        </ul>
      )}
      {pages.error && <ErrorNote error={pages.error} what="load more users" />}
      {pages.next && (
        <button type="button" className="quiet" onClick={more}>
          More users
        </button>
      )}
    </>
  );
}

function Fields({ rows }: { rows: [string, React.ReactNode][] }) {
  return (
    <dl className="fields">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v ?? "—"}</dd>
        </div>
      ))}
    </dl>
  );
}

const show = (v: unknown) =>
  v === null || v === undefined || v === "" ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v);

export function ProfilePage({ type, id, role }: { type: "account" | "user"; id: string; role: Role }) {
  const path = type === "account" ? "accounts" : "users";
  const [round, setRound] = useState(0);
  const [profile, reload] = useLoad(() => getJson<Profile>(`/v1/${path}/${enc(id)}`), [path, id]);
  const [activity] = useLoad(() => getJson<Activity>(`/v1/${path}/${enc(id)}/activity?days=30`), [path, id]);
  const refresh = () => {
    reload();
    setRound((r) => r + 1);
  };
  return (
    <Show loaded={profile} what={`${type} ${id}`}>
      {(p) => (
        <div className="profile">
          <header className="page-head">
            <p className="muted">{type === "account" ? "Account" : "User"}</p>
            <h1>{p.name ?? p.id}</h1>
            <p className="muted">
              {p.id}
              {p.email ? ` · ${p.email}` : ""}
            </p>
          </header>
          <div className="columns">
            <div>
              <TagWidget path={path} id={id} tags={p.tags} editable={canEdit(role)} onSaved={refresh} />
              <Suppressions
                path={path}
                id={id}
                tags={p.tags}
                suppressions={p.suppressions}
                editable={canEdit(role)}
                onChanged={refresh}
              />
              <History path={path} id={id} round={round} />
            </div>
            <div>
              <section className="card" aria-labelledby="fields-h">
                <h2 id="fields-h">Details</h2>
                {type === "account" ? (
                  <Fields
                    rows={[
                      ["Contract status", show(p.contractStatus)],
                      ["Renewal date", show(p.renewalDate)],
                      [
                        "Health",
                        `${show(p.health)}${p.healthScore != null ? ` (score ${p.healthScore})` : ""}`,
                      ],
                      ["Provisioned", when(p.provisionedAt)],
                      ["Users", show(p.userCount)],
                    ]}
                  />
                ) : (
                  <Fields
                    rows={[
                      ["Email", show(p.email)],
                      ["Created", when(p.createdAt)],
                      [
                        "Account",
                        p.account ? (
                          <a key="account" href={`#/accounts/${enc(p.account.id)}`}>
                            {p.account.name ?? p.account.id}
                          </a>
                        ) : (
                          "—"
                        ),
                      ],
                      ["Account tags", p.account?.tags.join(", ") || "—"],
                    ]}
                  />
                )}
                {Object.keys(p.attributes).length > 0 && (
                  <>
                    <h3>Attributes</h3>
                    <Fields rows={Object.entries(p.attributes).map(([k, v]) => [k, show(v)])} />
                  </>
                )}
              </section>
              <section className="card" aria-labelledby="activity-h">
                <h2 id="activity-h">Recent activity</h2>
                <Show loaded={activity} what="recent activity">
                  {(a) => <ActivityChart activity={a} />}
                </Show>
              </section>
              {p.users && (
                <section className="card" aria-labelledby="users-h">
                  <h2 id="users-h">Users ({p.userCount})</h2>
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">User</th>
                        <th scope="col">Tags</th>
                      </tr>
                    </thead>
                    <tbody>
                      {p.users.map((u) => (
                        <tr key={u.id}>
                          <td>
                            <a href={`#/users/${enc(u.id)}`}>{u.name ?? u.id}</a>
                            <div className="muted small">{u.email}</div>
                          </td>
                          <td>{u.tags.join(", ") || "—"}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                  <MoreUsers id={p.id} cursor={p.usersNextCursor ?? null} />
                </section>
              )}
            </div>
          </div>
        </div>
      )}
    </Show>
  );
}
