/**
 * The claims on the entities being re-evaluated, all sources, kept up to date
 * as each rule's changes are decided: a later rule's `tags` fact and each tag
 * event's `membership_changed` see the earlier rules' changes, as they would
 * after those rules' runs had committed.
 */
export class EntityClaims {
  /** entity id -> lower-case tag name -> the tag's name and the sources claiming it. */
  private readonly byEntity = new Map<string, Map<string, { name: string; sources: Set<string> }>>();

  add(entityId: string, tag: string, source: string): void {
    const tags = this.byEntity.get(entityId) ?? new Map<string, { name: string; sources: Set<string> }>();
    this.byEntity.set(entityId, tags);
    const key = tag.toLowerCase();
    const entry = tags.get(key) ?? { name: tag, sources: new Set<string>() };
    tags.set(key, entry);
    entry.sources.add(source);
  }

  remove(entityId: string, tag: string, source: string): void {
    const tags = this.byEntity.get(entityId);
    const entry = tags?.get(tag.toLowerCase());
    entry?.sources.delete(source);
    if (entry && entry.sources.size === 0) tags?.delete(tag.toLowerCase());
  }

  has(entityId: string, tag: string, source: string): boolean {
    return this.byEntity.get(entityId)?.get(tag.toLowerCase())?.sources.has(source) === true;
  }

  /** Whether a source other than `source` claims the tag (the entity keeps it without `source`). */
  claimedByOther(entityId: string, tag: string, source: string): boolean {
    const sources = this.byEntity.get(entityId)?.get(tag.toLowerCase())?.sources;
    if (!sources) return false;
    return sources.size > (sources.has(source) ? 1 : 0);
  }

  /** The names of the tags the entity has (the `tags` fact's input). */
  names(entityId: string): string[] {
    return [...(this.byEntity.get(entityId)?.values() ?? [])].map((e) => e.name);
  }
}
