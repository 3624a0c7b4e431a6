// Dominant Resource Fairness share, as Mesos's DRF sorter computes it: the largest fraction of
// the cluster total held in any scalar, divided by the weight. Resources with no total and
// names excluded by configuration do not count.

import type { Scalars } from "../resources/types.ts";

export function dominantShare(
  allocation: Scalars,
  totals: Scalars,
  excluded: ReadonlySet<string>,
  weight = 1,
): number {
  let share = 0;
  for (const name in allocation) {
    if (excluded.has(name)) continue;
    const total = totals[name] ?? 0;
    if (total <= 0) continue;
    const s = (allocation[name] ?? 0) / total;
    if (s > share) share = s;
  }
  return share / weight;
}
