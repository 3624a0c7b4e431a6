// REVIVE (Mesos: clear the framework's refusal filters and offer again), level-based. A
// Framework's latest revive is the time in its kubeoffers.io/revive annotation (the SDK's and
// the Mesos API's revive() write it, with the unsuppressed roles, in one patch). Every filter
// records when it was made (its offer's answer time), and a filter made before the latest
// revive is not in force — whether the revive was seen as it happened, by another leader, or
// before filters were rebuilt from retained answered offers after a restart.
import { ANNOTATION_REVIVE, DEFAULT_REFUSE_SECONDS } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import { frameworkId } from "./names.ts";
import type { FilterStore } from "./state.ts";
import { timeOf } from "./views.ts";

/** Longest refusal a decline can ask for (a year), as the offer reconciler caps it. */
export const MAX_REFUSE_SECONDS = 365 * 24 * 3600;

/** The time in a Framework's revive annotation (epoch ms), or -Infinity. */
export function reviveAnnotationTime(fw: Framework): number {
  const t = timeOf(fw.metadata?.annotations?.[ANNOTATION_REVIVE]);
  return Number.isFinite(t) ? t : Number.NEGATIVE_INFINITY;
}

/** Until when an answer refuses its agent (Mesos Filters.refuse_seconds; default 5 s). */
export function refuseUntil(offer: ResourceOffer, answeredAt: number): number {
  const s = offer.spec.response?.filters?.refuseSeconds ?? DEFAULT_REFUSE_SECONDS;
  return answeredAt + Math.min(Math.max(0, s), MAX_REFUSE_SECONDS) * 1000;
}

/**
 * Each framework's latest revive. The annotation is the level; a role taken out of
 * suppressedRoles without it (a hand edit) counts as a revive at the time it is first seen —
 * that one is in memory only, so a leader that did not see the edit does not know of it.
 */
export class Revivals {
  private readonly suppressed = new Map<string, Set<string>>();
  private readonly unsuppressedAt = new Map<string, number>();

  /** Notes the frameworks as they are now; forgets those that are gone. */
  observe(frameworks: Iterable<Framework>, now: number): void {
    const seen = new Set<string>();
    for (const f of frameworks) {
      const id = frameworkId(f.metadata?.namespace ?? "", f.metadata?.name ?? "");
      seen.add(id);
      const cur = new Set(f.spec?.suppressedRoles ?? []);
      const before = this.suppressed.get(id);
      this.suppressed.set(id, cur);
      if (before && [...before].some((r) => !cur.has(r))) this.unsuppressedAt.set(id, now);
    }
    for (const id of this.suppressed.keys()) {
      if (seen.has(id)) continue;
      this.suppressed.delete(id);
      this.unsuppressedAt.delete(id);
    }
  }

  /** When `fw` was last revived (epoch ms; -Infinity: never). */
  revivedAt(fw: Framework): number {
    const id = frameworkId(fw.metadata?.namespace ?? "", fw.metadata?.name ?? "");
    return Math.max(reviveAnnotationTime(fw), this.unsuppressedAt.get(id) ?? Number.NEGATIVE_INFINITY);
  }
}

/**
 * Re-derives refusal filters from the answered offers still retained, each made at its answer
 * time; `active` then leaves out those older than their framework's revive.
 */
export function rebuildFilters(store: FilterStore, offers: Iterable<ResourceOffer>, now: number): void {
  for (const o of offers) {
    const answered = timeOf(o.status?.answeredAt);
    if (!o.spec?.response || !Number.isFinite(answered)) continue;
    const until = refuseUntil(o, answered);
    if (until > now)
      store.add(frameworkId(o.metadata.namespace ?? "", o.spec.framework), o.spec.agent, until, answered);
  }
}
