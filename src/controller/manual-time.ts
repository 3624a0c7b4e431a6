// A clock and timers a test moves (clock.ts's Clock and Timers): nothing fires until advance()
// passes its time, so a test of timed behaviour neither waits nor depends on the machine's load.

export class ManualTime {
  private time: number;
  private readonly pending: { at: number; fn: () => void }[] = [];

  constructor(start: number) {
    this.time = start;
  }

  readonly clock = (): number => this.time;

  readonly timers = {
    after: (ms: number, fn: () => void): (() => void) => {
      const t = { at: this.time + Math.max(0, ms), fn };
      this.pending.push(t);
      return () => {
        const i = this.pending.indexOf(t);
        if (i >= 0) this.pending.splice(i, 1);
      };
    },
  };

  /** Timers set and not yet fired or cancelled. */
  get waiting(): number {
    return this.pending.length;
  }

  /**
   * Moves the clock by `ms`, firing due timers in time order (the clock at each one's time), and
   * lets what each started run: its promises settle and I/O it began (a memory cluster's) lands.
   */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    for (;;) {
      this.pending.sort((a, b) => a.at - b.at);
      const next = this.pending[0];
      if (!next || next.at > until) break;
      this.pending.shift();
      this.time = next.at;
      next.fn();
      await settle();
    }
    this.time = until;
    await settle();
  }
}

/** Lets queued promise callbacks and immediates run (a few rounds: chains of awaits). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
