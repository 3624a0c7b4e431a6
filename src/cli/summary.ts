// The live summary `npm start` prints: agents, frameworks, offers and tasks by state. collect()
// reads the cluster; render() is pure, so its output is unit-tested.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { Agent } from "../crds/agent.ts";
import { ANNOTATION_RESOURCES, GROUP, LABEL_FRAMEWORK, PLURAL, VERSION } from "../crds/contract.ts";
import type { Framework } from "../crds/framework.ts";
import type { ResourceOffer } from "../crds/offer.ts";
import { parseResources, type ResourceMap, sumResources } from "../sdk/resources.ts";
import { taskStatusOf } from "../tasks/state.ts";

export interface FrameworkRow {
  name: string;
  phase: string;
  share: number;
  tasks: Record<string, number>;
  /** A line from the framework itself, e.g. "36/48 done". */
  note?: string;
}

export interface Snapshot {
  agents: { total: number; ready: number; capacity: ResourceMap; used: ResourceMap };
  frameworks: FrameworkRow[];
  offers: Record<string, number>;
  tasks: Record<string, number>;
}

const TASK_COLUMNS = [
  ["TASK_STAGING", "staging"],
  ["TASK_STARTING", "starting"],
  ["TASK_RUNNING", "running"],
  ["TASK_FINISHED", "finished"],
  ["TASK_FAILED", "failed"],
  ["TASK_KILLED", "killed"],
  ["TASK_LOST", "lost"],
] as const;

export async function collect(
  kc: KubeConfig,
  namespace: string,
  notes: (framework: string) => string | undefined,
): Promise<Snapshot> {
  const co = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const [agents, frameworks, offers, pods] = await Promise.all([
    co.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL.agent }) as Promise<{
      items: Agent[];
    }>,
    co.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL.framework,
    }) as Promise<{
      items: Framework[];
    }>,
    co.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL.resourceOffer,
    }) as Promise<{ items: ResourceOffer[] }>,
    core.listNamespacedPod({ namespace, labelSelector: LABEL_FRAMEWORK }),
  ]);
  const tasks: Record<string, number> = {};
  const byFramework = new Map<string, Record<string, number>>();
  const used: ResourceMap[] = [];
  for (const p of pods.items as V1Pod[]) {
    const s = taskStatusOf(p).state;
    tasks[s] = (tasks[s] ?? 0) + 1;
    const fw = p.metadata?.labels?.[LABEL_FRAMEWORK] ?? "";
    const counts = byFramework.get(fw) ?? {};
    counts[s] = (counts[s] ?? 0) + 1;
    byFramework.set(fw, counts);
    const phase = p.status?.phase;
    const raw = p.metadata?.annotations?.[ANNOTATION_RESOURCES];
    if (phase !== "Succeeded" && phase !== "Failed" && raw) {
      try {
        const r = JSON.parse(raw) as ResourceMap;
        used.push({ ...(r.cpu ? { cpu: r.cpu } : {}), ...(r.memory ? { memory: r.memory } : {}) });
      } catch {
        /* not ours to judge */
      }
    }
  }
  const offerCounts: Record<string, number> = {};
  for (const o of offers.items) {
    const ph = o.status?.phase ?? "Offered";
    offerCounts[ph] = (offerCounts[ph] ?? 0) + 1;
  }
  const capacity = sumResources(
    agents.items.map((a) => {
      const r = (a.status?.resources ?? {}) as ResourceMap;
      return { ...(r.cpu ? { cpu: r.cpu } : {}), ...(r.memory ? { memory: r.memory } : {}) };
    }),
  );
  return {
    agents: {
      total: agents.items.length,
      ready: agents.items.filter((a) => a.status?.resources && a.status.available !== false).length,
      capacity,
      used: sumResources(used),
    },
    frameworks: frameworks.items
      .map((f) => {
        const name = f.metadata.name ?? "";
        const note = notes(name);
        return {
          name,
          phase: f.metadata.deletionTimestamp ? "Terminating" : (f.status?.phase ?? "Pending"),
          share: f.status?.dominantShare ?? 0,
          tasks: byFramework.get(name) ?? {},
          ...(note ? { note } : {}),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name)),
    offers: offerCounts,
    tasks,
  };
}

function pct(used: ResourceMap, total: ResourceMap, name: "cpu" | "memory"): string {
  const u = parseResources(used).scalars[name] ?? 0;
  const t = parseResources(total).scalars[name] ?? 0;
  // cpu is in milli-cores, memory in bytes: show cores and GiB with one decimal.
  const f = (v: number) => (name === "cpu" ? `${trim(v / 1000)}` : `${trim(v / 2 ** 30)}Gi`);
  return `${name} ${f(u)}/${f(t)} (${t ? Math.round((100 * u) / t) : 0}%)`;
}

function trim(x: number): string {
  return x.toFixed(1).replace(/\.0$/, "");
}

function pad(s: string, n: number): string {
  return s.length >= n ? `${s} ` : s + " ".repeat(n - s.length);
}

/** The summary as lines of text (no colours, no cursor movement). */
export function render(s: Snapshot, opts: { uptimeS: number }): string[] {
  const up = `${Math.floor(opts.uptimeS / 60)}:${String(Math.floor(opts.uptimeS % 60)).padStart(2, "0")}`;
  const lines = [
    `kube-offers demo · up ${up} · Ctrl-C stops everything`,
    "",
    `AGENTS      ${s.agents.ready}/${s.agents.total} ready · in use: ${pct(s.agents.used, s.agents.capacity, "cpu")}, ${pct(
      s.agents.used,
      s.agents.capacity,
      "memory",
    )}`,
    `FRAMEWORK   ${pad("PHASE", 13)}${pad("RUNNING", 9)}${pad("FINISHED", 10)}${pad("FAILED", 8)}${pad("SHARE", 7)}NOTE`,
  ];
  for (const f of s.frameworks) {
    const n = (k: string) => String(f.tasks[k] ?? 0);
    lines.push(
      `  ${pad(f.name, 10)}${pad(f.phase, 13)}${pad(n("TASK_RUNNING"), 9)}${pad(n("TASK_FINISHED"), 10)}${pad(
        n("TASK_FAILED"),
        8,
      )}${pad(f.share.toFixed(2), 7)}${f.note ?? ""}`,
    );
  }
  if (!s.frameworks.length) lines.push("  (none yet)");
  const o = (k: string) => s.offers[k] ?? 0;
  lines.push(
    `OFFERS      ${o("Offered")} outstanding · recent: ${o("Accepted")} accepted, ${o("Declined")} declined, ${o(
      "Rescinded",
    )} rescinded, ${o("Expired")} expired, ${o("Invalid")} invalid`,
  );
  const other = Object.entries(s.tasks)
    .filter(([k]) => !TASK_COLUMNS.some(([c]) => c === k))
    .map(([k, v]) => `${k.replace("TASK_", "").toLowerCase()} ${v}`);
  lines.push(
    `TASKS       ${[...TASK_COLUMNS.map(([k, label]) => `${label} ${s.tasks[k] ?? 0}`), ...other].join(" · ")}`,
  );
  return lines;
}
