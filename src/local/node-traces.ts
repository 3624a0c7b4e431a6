// Traces, for teardown tests: what a running real node has made, each identified so that a test
// can tell afterwards whether exactly that is still there.
import { readFileSync, readlinkSync } from "node:fs";
import {
  cgroupDirs,
  cgroupPids,
  cniCacheFiles,
  isZombie,
  lexists,
  logLinks,
  mounts,
  type NodeTeardown,
  type Proc,
  processesOf,
  readdirSafe,
  SHIM,
  sandboxIds,
  shimSockets,
  walk,
} from "./node-teardown.ts";

export interface Trace {
  kind: "process" | "mount" | "netns" | "cgroup" | "file";
  /** Human-readable: what it is and why it is the node's. */
  what: string;
  /** process: "<pid>:<start time>"; mount: mount point; netns: "net:[inode]"; cgroup, file: path. */
  id: string;
}

/**
 * Everything of `node` on this host right now: its daemons, shims and container processes (by
 * PID and start time), its mounts, its Pods' and its own network namespaces (by inode), its
 * cgroups and its host-wide files (shim sockets, CNI cache entries, log links).
 */
export function nodeTraces(node: NodeTeardown): Trace[] {
  const traces: Trace[] = [];
  const process_ = (pid: number, role: string) => {
    const start = startTime(pid);
    if (start) traces.push({ kind: "process", what: `${role} (pid ${pid})`, id: `${pid}:${start}` });
  };
  const daemons = new Set((node.processes ?? []).map((p) => p.pid));
  for (const p of processesOf(node)) process_(p.pid, daemonRole(p, daemons));
  const netns = new Map<string, string>();
  for (const pid of cgroupPids(node.cgroupRoot)) {
    process_(pid, `container process ${comm(pid)}`);
    const ns = netnsOf(pid);
    if (ns) netns.set(ns, `Pod network namespace ${ns} (of pid ${pid})`);
  }
  const kubelet = (node.processes ?? []).find((p) => p.name.startsWith("kubelet"));
  const nodeNs = kubelet && netnsOf(kubelet.pid);
  if (nodeNs) netns.set(nodeNs, `node network namespace ${nodeNs}`);
  for (const [id, what] of netns) traces.push({ kind: "netns", what, id });
  for (const m of mounts())
    if (m.point === node.dir || m.point.startsWith(`${node.dir}/`))
      traces.push({ kind: "mount", what: `${m.fstype} mount ${m.point}`, id: m.point });
  for (const d of cgroupDirs(node.cgroupRoot))
    for (const c of walk(d)) traces.push({ kind: "cgroup", what: `cgroup ${c}`, id: c });
  for (const f of shimSockets(node))
    if (lexists(f)) traces.push({ kind: "file", what: `shim socket ${f}`, id: f });
  for (const f of cniCacheFiles(node.cniNetwork, sandboxIds(node)))
    traces.push({ kind: "file", what: `CNI cache ${f}`, id: f });
  for (const f of logLinks(node.dir)) traces.push({ kind: "file", what: `log link ${f}`, id: f });
  traces.push({ kind: "file", what: `node directory ${node.dir}`, id: node.dir });
  return traces;
}

/** The traces that are still there. */
export function remainingTraces(traces: Trace[]): Trace[] {
  const points = new Set(mounts().map((m) => m.point));
  const heldNetns = heldNamespaces();
  return traces.filter((t) => {
    switch (t.kind) {
      case "process": {
        const [pid, start] = t.id.split(":");
        return startTime(Number(pid)) === start && !isZombie(Number(pid));
      }
      case "mount":
        return points.has(t.id);
      case "netns":
        return heldNetns.has(t.id);
      default:
        return lexists(t.id);
    }
  });
}

function daemonRole(p: Proc, daemons: Set<number>): string {
  const prog = (p.cmd.split("\0")[0] ?? "").split("/").pop() ?? "";
  if (SHIM.test(p.cmd)) return `shim ${prog}`;
  return daemons.has(p.pid) ? prog : `process ${prog}`;
}

/** Field 22 of /proc/<pid>/stat: with the PID, it names one process (PIDs get reused). */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
}

function netnsOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/** Network namespaces something still holds: a mount (nsfs), a live process, an open descriptor. */
function heldNamespaces(): Set<string> {
  const held = new Set<string>();
  for (const m of mounts()) if (m.fstype === "nsfs" && m.root.startsWith("net:[")) held.add(m.root);
  for (const p of readdirSafe("/proc")) {
    if (!/^\d+$/.test(p) || isZombie(Number(p))) continue;
    const ns = netnsOf(Number(p));
    if (ns) held.add(ns);
    for (const fd of readdirSafe(`/proc/${p}/fd`)) {
      try {
        const target = readlinkSync(`/proc/${p}/fd/${fd}`);
        if (target.startsWith("net:[")) held.add(target);
      } catch {
        /* closed */
      }
    }
  }
  return held;
}
