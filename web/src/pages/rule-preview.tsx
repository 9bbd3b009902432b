import { useState } from "react";
import { download, sendJson } from "../api.ts";
import { ErrorNote } from "../components/async.tsx";
import type { RuleStatus } from "./rules.tsx";

type Node =
  | { all: Node[] }
  | { any: Node[] }
  | { not: Node }
  | { fact: string; result?: boolean; words?: { condition: string; actual: string } };

interface Sample {
  entityId: string;
  explanation: { conditions?: Node; reason?: string };
}
interface Preview {
  status: string;
  evaluated: number;
  matched: number;
  added: number;
  removed: number;
  wouldBeHeld?: string;
  samples?: { added: Sample[]; removed: Sample[] };
}

/** Each leaf that decided the change, as the server words it. */
function sentences(node: Node | undefined, want: boolean): string[] {
  if (!node) return [];
  if ("all" in node) return node.all.flatMap((n) => sentences(n, want));
  if ("any" in node) return node.any.flatMap((n) => sentences(n, want));
  if ("not" in node) return sentences(node.not, !want);
  if (node.result !== want || !node.words) return [];
  return [`${node.words.condition}: ${node.result ? "yes" : "no"}, ${node.words.actual}`];
}

function Samples({
  title,
  list,
  added,
  target,
}: {
  title: string;
  list: Sample[];
  added: boolean;
  target: string;
}) {
  if (list.length === 0) return null;
  return (
    <>
      <h4>{title}</h4>
      <ul className="samples">
        {list.map((s) => (
          <li key={s.entityId}>
            <a href={`#/${target}s/${encodeURIComponent(s.entityId)}`}>{s.entityId}</a>:{" "}
            {s.explanation.reason ?? sentences(s.explanation.conditions, added).join("; ")}
          </li>
        ))}
      </ul>
    </>
  );
}

/** What a run of the rule would do now (a dry run: nothing changes), with samples and the whole diff as CSV. */
export function RunPreview({ rule }: { rule: RuleStatus }) {
  const [state, setState] = useState<{ busy?: boolean; preview?: Preview; error?: Error }>({});
  const preview = async () => {
    setState({ busy: true });
    try {
      const r = await sendJson<{ results: Preview[] }>("POST", "/v1/runs", {
        rules: [rule.rule],
        dryRun: true,
        samples: 5,
      });
      setState({ preview: r.results[0] });
    } catch (error) {
      setState({ error: error as Error });
    }
  };
  const diff = () =>
    download("/v1/runs", `${rule.rule}-diff.csv`, {
      method: "POST",
      headers: { accept: "text/csv" },
      body: JSON.stringify({ rules: [rule.rule], dryRun: true, diff: true }),
    }).catch((error: Error) => setState({ ...state, error }));
  const p = state.preview;
  return (
    <section className="preview" aria-labelledby={`preview-${rule.rule}`}>
      <h3 id={`preview-${rule.rule}`}>Preview</h3>
      <div className="row">
        <button type="button" onClick={preview} disabled={state.busy}>
          {state.busy ? "Previewing…" : `Preview ${rule.rule}`}
        </button>
        <button type="button" className="quiet" onClick={diff}>
          Download the whole diff (CSV)
        </button>
      </div>
      {state.error && <ErrorNote error={state.error} what="preview the rule" />}
      {p && (
        <fieldset aria-label="Preview result" className="plain">
          <p>
            Would add <strong data-testid="preview-added">{p.added}</strong> and remove{" "}
            <strong data-testid="preview-removed">{p.removed}</strong> ({p.evaluated} evaluated, {p.matched}{" "}
            match).
          </p>
          {p.wouldBeHeld && <p className="note">A real run would be held: {p.wouldBeHeld}</p>}
          <Samples title="Would gain the tag" list={p.samples?.added ?? []} added target={rule.target} />
          <Samples
            title="Would lose the tag"
            list={p.samples?.removed ?? []}
            added={false}
            target={rule.target}
          />
        </fieldset>
      )}
    </section>
  );
}
