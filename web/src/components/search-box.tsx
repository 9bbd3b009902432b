import { useEffect, useState } from "react";
import { enc, getJson } from "../api.ts";
import { Combobox } from "./combobox.tsx";

interface Hit {
  type: "account" | "user";
  id: string;
  name: string | null;
  email: string | null;
  accountId: string | null;
}

/** The one search box: accounts and users by id, name or email, as you type. */
export function SearchBox() {
  const [text, setText] = useState("");
  const [hits, setHits] = useState<Hit[]>([]);
  const [status, setStatus] = useState<string | undefined>(undefined);
  useEffect(() => {
    const q = text.trim();
    if (q === "") {
      setHits([]);
      setStatus(undefined);
      return;
    }
    let current = true;
    // A short pause while typing: one request per pause, not one per key.
    const timer = setTimeout(() => {
      setStatus("Searching…");
      getJson<{ results: Hit[] }>(`/v1/search?q=${enc(q)}`).then(
        (r) => {
          if (!current) return;
          setHits(r.results);
          setStatus(r.results.length === 0 ? `Nothing starts with "${q}"` : `${r.results.length} found`);
        },
        (err: Error) => current && setStatus(`Search failed: ${err.message}`),
      );
    }, 120);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [text]);
  const open = (key: string) => {
    const [type, ...rest] = key.split(":");
    location.hash = `#/${type === "account" ? "accounts" : "users"}/${enc(rest.join(":"))}`;
    setText("");
  };
  return (
    <div className="search">
      <Combobox
        label="Search"
        hideLabel
        placeholder="Search accounts and users: id, name or email"
        value={text}
        onInput={setText}
        options={hits.map((h) => ({
          key: `${h.type}:${h.id}`,
          label: (
            <>
              <span className="badge">{h.type}</span> <strong>{h.name ?? h.id}</strong>{" "}
              <span className="muted">
                {h.id}
                {h.email ? ` · ${h.email}` : ""}
              </span>
            </>
          ),
        }))}
        onChoose={open}
        onEnterText={() => {
          if (hits[0]) open(`${hits[0].type}:${hits[0].id}`);
        }}
        status={status}
      />
    </div>
  );
}
