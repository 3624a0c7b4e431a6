// Profiles the API server (Go's pprof, /debug/pprof/profile) over a way's window in back-to-back
// slices, then has `go tool pprof` merge them and name where its CPU went: what a way costs the
// API server is then measured, not guessed. The last slice may run up to one slice past the way.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { fetchApiserver } from "./measure.ts";

export class ApiserverProfiler {
  private readonly files: string[] = [];
  private loop: Promise<void> | undefined;
  private stopped = false;
  private error: Error | undefined;

  private readonly kc: KubeConfig;
  private readonly dir: string;
  private readonly sliceSeconds: number;

  constructor(kc: KubeConfig, dir: string, sliceSeconds = 10) {
    this.kc = kc;
    this.dir = dir;
    this.sliceSeconds = sliceSeconds;
  }

  start(): void {
    mkdirSync(this.dir, { recursive: true });
    this.loop = (async () => {
      for (let i = 0; !this.stopped; i++) {
        const path = `/debug/pprof/profile?seconds=${this.sliceSeconds}`;
        const body = await fetchApiserver(this.kc, path, (this.sliceSeconds + 30) * 1000);
        const file = join(this.dir, `slice-${i}.pb.gz`);
        writeFileSync(file, body);
        this.files.push(file);
      }
    })().catch((err: unknown) => {
      this.error = err instanceof Error ? err : new Error(String(err));
    });
  }

  /** Ends after the slice in flight; the profile files taken. */
  async stop(): Promise<string[]> {
    this.stopped = true;
    await this.loop;
    if (this.error && this.files.length === 0) throw this.error;
    return this.files;
  }
}

/** `go tool pprof -top` of the merged slices, by self time and by cumulative time. */
export function formatGoProfile(title: string, files: string[], rows = 20): string {
  if (files.length === 0) return `\n${title}: no profile taken\n`;
  const top = (extra: string[]) =>
    execFileSync("go", ["tool", "pprof", "-top", `-nodecount=${rows}`, ...extra, ...files], {
      encoding: "utf8",
      env: { ...process.env, GOTOOLCHAIN: "local" },
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 16 * 2 ** 20,
    })
      .split("\n")
      .filter((l) => !/^(File|Build ID|Type|Time|Showing nodes|Dropped)/.test(l.trim()))
      .join("\n");
  return `\n${title} (${files.length} slices merged), by self time:\n${top([])}\nby cumulative time:\n${top(["-cum"])}`;
}
