// Summarises a V8 CPU profile (node --cpu-prof): self time by function and by where the code
// lives (a package, a src/ directory, Node's internals, GC, idle), so a bench run can say what
// bounds the process it profiled.
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Self time, largest first. */
  functions: { name: string; ms: number }[];
  places: { name: string; ms: number }[];
}

/** Where a frame's code lives: "node_modules/<pkg>", "src/<dir>", "node:internal", or the V8 pseudo-frame. */
function placeOf(url: string, fn: string): string {
  if (!url) return fn.startsWith("(") ? fn : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `node_modules/${pkg[1]}`;
  const src = /\/((?:src|examples|bench|test)\/[^/]+)/.exec(url);
  if (src) return src[1] ?? url;
  if (url.startsWith("node:")) return "node:internal";
  return url;
}

function top(m: Map<string, number>, n: number): { name: string; ms: number }[] {
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000 }));
}

export function summariseProfile(path: string, n = 12): ProfileSummary {
  const prof = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(prof.nodes.map((node) => [node.id, node]));
  const fns = new Map<string, number>();
  const places = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const us = prof.timeDeltas[i] ?? 0;
    const f = byId.get(id)?.callFrame;
    if (!f) return;
    total += us;
    const file = f.url.replace(/^.*\/(node_modules|src|examples)\//, "$1/");
    const name = `${f.functionName || "(anonymous)"} ${file ? `${file}:${f.lineNumber + 1}` : ""}`.trim();
    fns.set(name, (fns.get(name) ?? 0) + us);
    const place = placeOf(f.url, f.functionName);
    places.set(place, (places.get(place) ?? 0) + us);
  });
  return { totalMs: total / 1000, functions: top(fns, n), places: top(places, n) };
}

export function formatProfile(label: string, s: ProfileSummary): string {
  const pct = (ms: number) => `${((100 * ms) / (s.totalMs || 1)).toFixed(1)}%`.padStart(6);
  const lines = [`\n${label}: ${(s.totalMs / 1000).toFixed(1)} s sampled`, "  self time by place:"];
  for (const p of s.places) lines.push(`    ${pct(p.ms)}  ${p.name}`);
  lines.push("  self time by function:");
  for (const f of s.functions) lines.push(`    ${pct(f.ms)}  ${f.name}`);
  return `${lines.join("\n")}\n`;
}
