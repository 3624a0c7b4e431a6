// A map for the few entries an agent holds (its allocations): two arrays and a linear scan.
// Entries come and go every cycle; a Map's hashing and rehashing cost more at this size.

export class SmallMap<K, V> {
  readonly keys: K[] = [];
  readonly values: V[] = [];

  get(k: K): V | undefined {
    const i = this.keys.indexOf(k);
    return i < 0 ? undefined : this.values[i];
  }

  set(k: K, v: V): void {
    const i = this.keys.indexOf(k);
    if (i >= 0) this.values[i] = v;
    else {
      this.keys.push(k);
      this.values.push(v);
    }
  }

  delete(k: K): void {
    const i = this.keys.indexOf(k);
    if (i < 0) return;
    const last = this.keys.length - 1;
    this.keys[i] = this.keys[last] as K;
    this.values[i] = this.values[last] as V;
    this.keys.pop();
    this.values.pop();
  }

  /** A copy of the entries, safe to iterate while deleting. */
  entries(): [K, V][] {
    return this.keys.map((k, i) => [k, this.values[i] as V]);
  }
}
