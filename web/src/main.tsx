import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { getJson, type Role, storedKey, storeKey } from "./api.ts";
import { SearchBox } from "./components/search-box.tsx";
import { ProfilePage } from "./pages/profile.tsx";
import { RulesPage } from "./pages/rules.tsx";
import { SegmentsPage } from "./pages/segments.tsx";
import { SignIn } from "./pages/sign-in.tsx";
import { TagsPage } from "./pages/tags.tsx";
import "./styles.css";

export interface Session {
  key: string;
  name: string;
  role: Role;
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return hash;
}

function Page({ hash, session }: { hash: string; session: Session }) {
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if ((parts[0] === "accounts" || parts[0] === "users") && parts[1]) {
    const type = parts[0] === "accounts" ? "account" : "user";
    return <ProfilePage key={`${type}/${parts[1]}`} type={type} id={parts[1]} role={session.role} />;
  }
  if (parts[0] === "tags") return <TagsPage selected={parts[1]} />;
  if (parts[0] === "segments") return <SegmentsPage role={session.role} />;
  if (parts[0] === "rules") return <RulesPage role={session.role} />;
  return (
    <section className="home">
      <h1>signaltag</h1>
      <p>
        Find an account or a user with the search box above, or open <a href="#/tags">tags</a>,{" "}
        <a href="#/segments">segments</a> or <a href="#/rules">rules and runs</a>.
      </p>
    </section>
  );
}

function App() {
  const hash = useHash();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  useEffect(() => {
    const key = storedKey();
    if (!key) return setSession(null);
    getJson<{ name: string; role: Role }>("/v1/me", key).then(
      (me) => setSession({ key, ...me }),
      () => {
        storeKey(null);
        setSession(null);
      },
    );
  }, []);
  if (session === undefined) return <p className="muted">Loading…</p>;
  if (session === null) {
    return (
      <SignIn
        onSignedIn={(s) => {
          storeKey(s.key);
          setSession(s);
        }}
      />
    );
  }
  const current = hash.replace(/^#\/?/, "").split("/")[0] ?? "";
  const link = (href: string, label: string, name: string) => (
    <a href={href} aria-current={current === name ? "page" : undefined}>
      {label}
    </a>
  );
  return (
    <>
      <header className="top">
        <a className="brand" href="#/">
          signaltag
        </a>
        <nav aria-label="Main">
          {link("#/tags", "Tags", "tags")}
          {link("#/segments", "Segments", "segments")}
          {link("#/rules", "Rules and runs", "rules")}
        </nav>
        <SearchBox />
        <span className="who">
          {session.name} <span className="badge">{session.role}</span>
        </span>
        <button
          type="button"
          className="quiet"
          onClick={() => {
            storeKey(null);
            setSession(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        <Page hash={hash} session={session} />
      </main>
    </>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
