import type { DbOrTx } from "../db/client.ts";
import { activityPairs } from "./sql/activities.ts";

/** A name seen in the data: how many events carry it and the last calendar day one happened. */
export interface SeenName {
  name: string;
  events: number;
  lastSeen: string;
}

/** The data's vocabulary: the activity and module names events carry, most frequent first. */
export interface ActivityVocabulary {
  activities: SeenName[];
  modules: SeenName[];
}

/** The activity and module names seen in the rollups, with event counts and last seen day. */
export async function activityVocabulary(db: DbOrTx): Promise<ActivityVocabulary> {
  const pairs = await activityPairs(db);
  const activities = new Map<string, SeenName>();
  const modules = new Map<string, SeenName>();
  const fold = (into: Map<string, SeenName>, name: string, events: number, lastSeen: string) => {
    const seen = into.get(name);
    if (!seen) into.set(name, { name, events, lastSeen });
    else {
      seen.events += events;
      if (lastSeen > seen.lastSeen) seen.lastSeen = lastSeen;
    }
  };
  for (const p of pairs) {
    fold(activities, p.activity, p.events, p.last_seen);
    // An empty module is an event without one, not a module's name.
    if (p.module !== "") fold(modules, p.module, p.events, p.last_seen);
  }
  const ordered = (m: Map<string, SeenName>) =>
    [...m.values()].sort((a, b) => b.events - a.events || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { activities: ordered(activities), modules: ordered(modules) };
}
