import { useEffect, useState } from "react";
import { enc, getJson } from "../api.ts";
import { Combobox } from "./combobox.tsx";

/** Several existing tags chosen with a combobox; each chosen one has a remove button. */
export function TagPicker({
  label,
  value,
  onChange,
}: {
  label: string;
  value: string[];
  onChange: (tags: string[]) => void;
}) {
  const [text, setText] = useState("");
  const [suggestions, setSuggestions] = useState<string[]>([]);
  useEffect(() => {
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
  }, [text]);
  const add = (t: string) => {
    setText("");
    if (!value.some((v) => v.toLowerCase() === t.toLowerCase())) onChange([...value, t]);
  };
  return (
    <div className="tag-picker">
      <Combobox
        label={label}
        value={text}
        onInput={setText}
        options={suggestions.filter((s) => !value.includes(s)).map((s) => ({ key: s, label: s }))}
        onChoose={add}
        onEnterText={add}
        placeholder="type a tag"
      />
      <ul className="chips" aria-label={`${label}: chosen tags`}>
        {value.map((t) => (
          <li key={t}>
            <span className="chip">{t}</span>
            <button
              type="button"
              className="remove"
              aria-label={`${label}: remove ${t}`}
              onClick={() => onChange(value.filter((v) => v !== t))}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
