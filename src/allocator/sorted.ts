// Arrays kept sorted by (share, key), as Mesos's DRF sorter orders its clients. An entry moves
// with two native splices when its share changes, instead of re-sorting everything.

export interface Ranked {
  share: number;
  key: string;
}

export function compareRanked(a: Ranked, b: Ranked): number {
  return a.share - b.share || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

function lowerBound<T extends Ranked>(list: readonly T[], share: number, key: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = list[mid] as T;
    if (e.share < share || (e.share === share && e.key < key)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function insertRanked<T extends Ranked>(list: T[], e: T): number {
  const i = lowerBound(list, e.share, e.key);
  list.splice(i, 0, e);
  return i;
}

export function removeRanked<T extends Ranked>(list: T[], e: T): number {
  const i = lowerBound(list, e.share, e.key);
  if (list[i] !== e) return -1;
  list.splice(i, 1);
  return i;
}

/** Gives `e` a new share and moves it; true when its position changed. */
export function updateRanked<T extends Ranked>(list: T[], e: T, share: number): boolean {
  if (share === e.share) return false;
  const i = lowerBound(list, e.share, e.key);
  if (list[i] !== e) {
    e.share = share;
    return false;
  }
  const prev = list[i - 1];
  const next = list[i + 1];
  e.share = share;
  // Cheap check for the common case of not moving at all.
  if ((!prev || compareRanked(prev, e) < 0) && (!next || compareRanked(e, next) < 0)) return false;
  list.splice(i, 1);
  const j = lowerBound(list, e.share, e.key);
  list.splice(j, 0, e);
  return i !== j;
}
