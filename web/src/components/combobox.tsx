import { type KeyboardEvent, type ReactNode, useId, useState } from "react";

export interface Option {
  key: string;
  label: ReactNode;
}

/**
 * A text box with a list of suggestions (the ARIA combobox pattern): arrows
 * move through the suggestions, Enter takes the highlighted one (or, with none
 * highlighted, the typed text), Escape closes the list and then clears the text.
 */
export function Combobox({
  label,
  value,
  onInput,
  options,
  onChoose,
  onEnterText,
  placeholder,
  status,
  hideLabel,
}: {
  label: string;
  value: string;
  onInput: (text: string) => void;
  options: Option[];
  onChoose: (key: string) => void;
  onEnterText?: (text: string) => void;
  placeholder?: string;
  /** Read to screen readers and shown under the box: "3 results", "Searching…", an error. */
  status?: string;
  hideLabel?: boolean;
}) {
  const id = useId();
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const shown = open && options.length > 0;
  const choose = (key: string) => {
    setOpen(false);
    setActive(-1);
    onChoose(key);
  };
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      setOpen(true);
      setActive((a) => Math.min(a + 1, options.length - 1));
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      setActive((a) => Math.max(a - 1, -1));
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (shown && active >= 0 && options[active]) choose(options[active].key);
      else if (onEnterText && value.trim() !== "") {
        setOpen(false);
        setActive(-1);
        onEnterText(value.trim());
      }
    } else if (e.key === "Escape") {
      if (shown) setOpen(false);
      else onInput("");
      setActive(-1);
    }
  };
  return (
    <div className="combobox">
      <label htmlFor={`${id}-input`} className={hideLabel ? "visually-hidden" : undefined}>
        {label}
      </label>
      <input
        id={`${id}-input`}
        role="combobox"
        aria-expanded={shown}
        aria-controls={`${id}-list`}
        aria-autocomplete="list"
        aria-activedescendant={shown && active >= 0 ? `${id}-opt-${active}` : undefined}
        autoComplete="off"
        placeholder={placeholder}
        value={value}
        onChange={(e) => {
          onInput(e.target.value);
          setOpen(true);
          setActive(-1);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setOpen(false)}
        onKeyDown={onKeyDown}
      />
      <div id={`${id}-list`} role="listbox" aria-label={`${label} suggestions`} hidden={!shown}>
        {options.map((o, i) => (
          <div
            key={o.key}
            tabIndex={-1}
            id={`${id}-opt-${i}`}
            role="option"
            aria-selected={i === active}
            className={i === active ? "active" : undefined}
            // mousedown, not click: the input's blur would close the list before a click lands.
            onMouseDown={(e) => {
              e.preventDefault();
              choose(o.key);
            }}
          >
            {o.label}
          </div>
        ))}
      </div>
      {status !== undefined && (
        <p className="combobox-status muted" aria-live="polite">
          {status}
        </p>
      )}
    </div>
  );
}
