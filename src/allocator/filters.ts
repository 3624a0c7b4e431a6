// Who may be offered an agent, as bitsets over framework indices: the candidates (frameworks
// eligible in some role), the GPU-capable, and per agent the refusal filters and the attribute
// constraints it fails. "Who still wants this agent" is then a word-wise AND.
//
// Refusal filters with an end sit in a heap (heap.ts) ordered by their end, so a cycle expires
// only those that are due. A filter that was replaced, cleared by revive or whose framework
// was removed stays in the heap and is skipped when it comes up.

import { matchesConstraints } from "../resources/constraints.ts";
import { clearBit, grow, hasBit, popcount32, setBit } from "./bitset.ts";
import { type HeapEntry, RankHeap } from "./heap.ts";
import type { Agent, Fw, Model } from "./model.ts";
import type { RefusalFilter } from "./types.ts";

/** A timed filter in the expiry heap, ordered by its end: `share` is the `until` time. */
interface Expiry extends HeapEntry {
  fw: Fw;
  agent: Agent;
}

export class Filters {
  private readonly model: Model;
  /** Words per bitset: 32 frameworks each. */
  words = 1;
  private candidates = new Uint32Array(1);
  private gpuCapable = new Uint32Array(1);
  candidateCount = 0;
  /** The frameworks that want the agent of the last wanting() call. */
  wants = new Uint32Array(1);
  /** By bit index. */
  readonly byIdx: (Fw | undefined)[] = [];
  private readonly freeIdx: number[] = [];
  /** Frameworks with attribute constraints. */
  private readonly constrained = new Set<Fw>();
  private readonly expiry = new RankHeap<Expiry>();

  constructor(model: Model) {
    this.model = model;
  }

  /** Gives a new framework a bit index, reusing a removed framework's. */
  attach(fw: Fw): void {
    let idx = this.freeIdx.pop();
    if (idx === undefined) {
      idx = this.byIdx.length;
      if (idx >= this.words * 32) this.growWords(this.words * 2);
    }
    fw.idx = idx;
    this.byIdx[idx] = fw;
  }

  private growWords(words: number): void {
    this.words = words;
    this.candidates = grow(this.candidates, words);
    this.gpuCapable = grow(this.gpuCapable, words);
    this.wants = new Uint32Array(words);
    for (const a of this.model.agents.values()) {
      a.filtered = grow(a.filtered, words);
      a.excluded = grow(a.excluded, words);
    }
  }

  /** A removed framework: clears its bits everywhere and frees its index. */
  detach(fw: Fw): void {
    for (const a of this.model.agents.values()) {
      clearBit(a.filtered, fw.idx);
      clearBit(a.excluded, fw.idx);
    }
    this.constrained.delete(fw);
    this.byIdx[fw.idx] = undefined;
    this.freeIdx.push(fw.idx);
    clearBit(this.candidates, fw.idx);
    clearBit(this.gpuCapable, fw.idx);
  }

  // ---------------------------------------------------------------- constraints

  /** The framework's constraints may have changed: which agents they exclude. */
  constrain(fw: Fw, hadConstraints: boolean): void {
    const has = (fw.snap?.constraints.length ?? 0) > 0;
    if (has) this.constrained.add(fw);
    else this.constrained.delete(fw);
    if (hadConstraints || has) for (const a of this.model.agents.values()) this.exclude(fw, a);
  }

  /** The agent's attributes may have changed: which frameworks' constraints exclude it. */
  constrainAgent(a: Agent): void {
    for (const fw of this.constrained) this.exclude(fw, a);
  }

  private exclude(fw: Fw, a: Agent): void {
    const c = fw.snap?.constraints;
    if (c && c.length > 0 && !matchesConstraints(a.snap?.attributes ?? {}, c)) setBit(a.excluded, fw.idx);
    else clearBit(a.excluded, fw.idx);
  }

  // ---------------------------------------------------------------- candidates

  /** After the sorter listed members: candidate and GPU bits of every framework. */
  rebuild(): void {
    this.candidates.fill(0);
    this.gpuCapable.fill(0);
    this.candidateCount = 0;
    for (const fw of this.model.frameworks.values()) {
      if (fw.snap?.gpuResources) setBit(this.gpuCapable, fw.idx);
      if (fw.listedMembers.length > 0) {
        setBit(this.candidates, fw.idx);
        this.candidateCount++;
      }
    }
  }

  /** After the sorter relisted fw in place: its candidate and GPU bits. */
  relist(fw: Fw): void {
    const wasCandidate = hasBit(this.candidates, fw.idx);
    const isCandidate = fw.listedMembers.length > 0;
    if (isCandidate && !wasCandidate) {
      setBit(this.candidates, fw.idx);
      this.candidateCount++;
    } else if (!isCandidate && wasCandidate) {
      clearBit(this.candidates, fw.idx);
      this.candidateCount--;
    }
    if (fw.snap?.gpuResources) setBit(this.gpuCapable, fw.idx);
    else clearBit(this.gpuCapable, fw.idx);
  }

  /** Fills `wants` with the candidates not filtered, not excluded, GPU-capable if needed; returns their count. */
  wanting(a: Agent): number {
    const w = this.wants;
    const c = this.candidates;
    const f = a.filtered;
    const x = a.excluded;
    const g = this.gpuCapable;
    let count = 0;
    for (let i = 0; i < this.words; i++) {
      let bits = (c[i] ?? 0) & ~(f[i] ?? 0) & ~(x[i] ?? 0);
      if (a.gpu) bits &= g[i] ?? 0;
      w[i] = bits;
      if (bits !== 0) count += popcount32(bits);
    }
    return count;
  }

  // ---------------------------------------------------------------- refusal filters

  /** The framework refuses the agent until `until` (epoch ms; Infinity = forever). Filters combine by max. */
  add(f: RefusalFilter): void {
    const fw = this.model.frameworks.get(f.framework);
    const a = this.model.agents.get(f.agent);
    if (!fw || !a || !(f.until > Number.NEGATIVE_INFINITY)) return;
    const timed = fw.timedFilters.get(a);
    if (f.until === Number.POSITIVE_INFINITY) {
      fw.timedFilters.delete(a);
      setBit(a.filtered, fw.idx);
      return;
    }
    if (hasBit(a.filtered, fw.idx) && timed === undefined) return; // already forever
    if (timed !== undefined && timed >= f.until) return;
    fw.timedFilters.set(a, f.until);
    setBit(a.filtered, fw.idx);
    this.expiry.insert({ share: f.until, rank: 0, hpos: -1, fw, agent: a });
  }

  /** Drops all of the framework's filters. */
  clear(fw: Fw): void {
    fw.timedFilters.clear();
    for (const a of this.model.agents.values()) clearBit(a.filtered, fw.idx);
  }

  /** A removed agent: no framework's timed filter refers to it any more. */
  forgetAgent(a: Agent): void {
    for (const fw of this.model.frameworks.values()) fw.timedFilters.delete(a);
  }

  /**
   * The frameworks refusing the agent at `now`, sorted (for the cross-check with a rebuild).
   * Placeholders (frameworks known only from what they hold) are left out: they get no offers.
   */
  refusing(a: Agent, now: number): string[] {
    const out: string[] = [];
    for (const fw of this.byIdx) {
      if (!fw?.snap || !hasBit(a.filtered, fw.idx)) continue;
      const until = fw.timedFilters.get(a);
      if (until === undefined || until > now) out.push(fw.id);
    }
    return out.sort();
  }

  /** Lifts the filters that ended by `now`. */
  expire(now: number): void {
    const heap = this.expiry;
    for (let e = heap.items[0]; e !== undefined && e.share <= now; e = heap.items[0]) {
      heap.remove(e);
      const { fw, agent, share: until } = e;
      if (fw.timedFilters.get(agent) !== until || this.model.frameworks.get(fw.id) !== fw) continue;
      fw.timedFilters.delete(agent);
      clearBit(agent.filtered, fw.idx);
    }
  }
}
