import { useState } from "react";
import { sendJson } from "../api.ts";
import { type SegmentSpec, segmentBody } from "../segment-spec.ts";

interface BulkResult {
  action: string;
  tag: string;
  requested: number;
  claimsChanged: number;
  membershipsChanged: number;
}

/** Bulk tag or untag every entity of the segment (admins), after a confirmation that shows the count. */
export function BulkTag({ spec, count, onDone }: { spec: SegmentSpec; count: number; onDone: () => void }) {
  const [open, setOpen] = useState(false);
  const [action, setAction] = useState<"add" | "remove">("add");
  const [tag, setTag] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [state, setState] = useState<{ busy?: boolean; error?: string; done?: string }>({});
  if (!open) {
    return (
      <button type="button" className="quiet" onClick={() => setOpen(true)}>
        Bulk tag or untag…
      </button>
    );
  }
  const apply = async () => {
    setState({ busy: true });
    try {
      const r = await sendJson<BulkResult>("POST", `/v1/segments/${spec.path}/tags`, {
        ...segmentBody(spec),
        action,
        tag: tag.trim(),
      });
      setState({
        done: `${r.action === "add" ? "Tagged" : "Untagged"} ${r.membershipsChanged} of ${r.requested} ${spec.path} with “${r.tag}” (${r.requested - r.membershipsChanged} unchanged).`,
      });
      setConfirming(false);
      onDone();
    } catch (err) {
      setState({ error: `Nothing changed: ${(err as Error).message}` });
    }
  };
  return (
    <fieldset className="bulk card" aria-label="Bulk tag">
      <label>
        Action{" "}
        <select value={action} onChange={(e) => setAction(e.target.value as "add" | "remove")}>
          <option value="add">add tag</option>
          <option value="remove">remove tag</option>
        </select>
      </label>
      <label>
        Bulk tag name <input value={tag} onChange={(e) => setTag(e.target.value)} />
      </label>
      {!confirming ? (
        <button type="button" disabled={tag.trim() === "" || count === 0} onClick={() => setConfirming(true)}>
          Apply to segment…
        </button>
      ) : (
        <div role="alertdialog" aria-labelledby="bulk-confirm" className="confirm">
          <p id="bulk-confirm">
            {action === "add" ? "Add" : "Remove"} “{tag.trim()}” {action === "add" ? "to" : "from"} {count}{" "}
            {spec.path}?
          </p>
          <button type="button" onClick={apply} disabled={state.busy}>
            {action === "add" ? `Tag ${count} ${spec.path}` : `Untag ${count} ${spec.path}`}
          </button>
          <button type="button" className="quiet" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
      {state.error && (
        <p role="alert" className="error">
          {state.error}
        </p>
      )}
      {state.done && (
        <p role="status" className="ok">
          {state.done}
        </p>
      )}
      <button type="button" className="quiet" onClick={() => setOpen(false)}>
        Close
      </button>
    </fieldset>
  );
}
