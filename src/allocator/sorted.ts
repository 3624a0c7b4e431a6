// Arrays kept sorted by (share, rank), as Mesos's DRF sorter orders its clients (rank is the
// position of the client's name in name order, so ties break by name without string compares).
// The sorter keeps each role's children this way; an entry whose share changes slides to its
// new place, nothing is re-sorted.

export interface Ranked {
  share: number;
  rank: number;
}

export function compareRanked(a: Ranked, b: Ranked): number {
  return a.share - b.share || a.rank - b.rank;
}

function before(e: Ranked, share: number, rank: number): boolean {
  return e.share < share || (e.share === share && e.rank < rank);
}

function lowerBound<T extends Ranked>(
  list: readonly T[],
  share: number,
  rank: number,
  lo = 0,
  hi = list.length,
): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(list[mid] as T, share, rank)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Gives `e` a new share and moves it; true when its position changed. */
export function updateRanked<T extends Ranked>(list: T[], e: T, share: number): boolean {
  if (share === e.share) return false;
  const i = lowerBound(list, e.share, e.rank);
  e.share = share;
  if (list[i] !== e) return false;
  const next = list[i + 1];
  if (next && compareRanked(e, next) > 0) {
    // Moves right. Two native splices beat copyWithin and JS loops on long arrays.
    const j = lowerBound(list, share, e.rank, i + 1) - 1;
    list.splice(i, 1);
    list.splice(j, 0, e);
    return true;
  }
  const prev = list[i - 1];
  if (prev && compareRanked(prev, e) > 0) {
    const j = lowerBound(list, share, e.rank, 0, i);
    list.splice(i, 1);
    list.splice(j, 0, e);
    return true;
  }
  return false;
}
