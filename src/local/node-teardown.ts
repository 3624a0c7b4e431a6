// Tearing a real node down, by PID and by path, from what its record names, whether or not its
// daemons still run: daemons, container processes (by cgroup), shims, mounts, cgroups and the
// host-wide files containerd, CNI and the kubelet leave (shim sockets, result cache, log links).
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { run } from "./node-network.ts";
import type { NodeRecord } from "./node-record.ts";
import { isAlive, REGISTRY_DIR } from "./processes.ts";

export const CGROUP_V1 = "/sys/fs/cgroup";

const CNI_CACHE = "/var/lib/cni/results";
const CONTAINER_LOG_LINKS = "/var/log/containers";
export const SHIM = /^\/usr\/bin\/containerd-shim/;

/** What teardownNode needs: a NodeRecord (a RealNode is one). */
export type NodeTeardown = Pick<NodeRecord, "dir" | "socket" | "cgroupRoot"> &
  Partial<Pick<NodeRecord, "cniNetwork" | "processes">>;

/**
 * Ends everything of a node and removes its traces: its daemons and anything else running from
 * its directory (by PID), its containers (by the PIDs in its cgroups), its shims, every mount
 * under its directory (overlays, shm, volumes, Pod network namespaces), its cgroups, the shims'
 * sockets in /run/containerd/s, its CNI result cache, the kubelet's log links in
 * /var/log/containers (and its device-plugin socket, once no kubelet runs), and its directory.
 * Its node network namespace, veth and routes are its NodeNetwork's. Returns what it found to
 * remove; throws if something stays.
 */
export function teardownNode(node: NodeTeardown): string[] {
  const done: string[] = [];
  const count = (n: number, what: string) => {
    if (n) done.push(`${n} ${what}`);
  };
  // The daemons first, so that no kubelet restarts a container and no containerd starts a shim.
  const daemons = new Set(killAll(processesOf(node).filter((p) => !SHIM.test(p.cmd))));
  count(daemons.size, "daemon(s)");
  // Before the shims and the directory go: which sockets and cache entries are the node's.
  const sockets = shimSockets(node);
  const ids = sandboxIds(node);
  const containers = new Set<number>();
  const shims = new Set<number>();
  for (let round = 0; round < 50; round++) {
    const inCgroups = cgroupPids(node.cgroupRoot);
    const rest = processesOf(node);
    if (!inCgroups.length && !rest.length) break;
    for (const pid of killAll(inCgroups.map((pid) => ({ pid, cmd: "" })))) containers.add(pid);
    for (const pid of killAll(rest)) if (!daemons.has(pid)) shims.add(pid);
    sleepSync(round < 5 ? 20 : 100);
  }
  // A killed process holds its namespaces (a Pod's netns) until it has exited, which can be after
  // it has left its cgroup: wait for that, bounded.
  const killed = [...daemons, ...containers, ...shims];
  for (let i = 0; i < 100 && killed.some((pid) => !isZombie(pid)); i++) sleepSync(50);
  count(containers.size, "container process(es)");
  count(shims.size, "shim(s)");
  const mounts = mountsUnder(node.dir);
  unmountUnder(node.dir);
  count(mounts.length, "mount(s)");
  count(removeCgroup(node.cgroupRoot), "cgroup(s)");
  let files = 0;
  for (const f of [...sockets, ...cniCacheFiles(node.cniNetwork, ids), ...logLinks(node.dir)]) {
    if (!lexists(f)) continue;
    rmSync(f, { force: true });
    files++;
  }
  if (removeStaleKubeletSocket()) files++;
  count(files, "host file(s)");
  // Never through a mount that would not go (a subPath bind mount's source is outside).
  if (existsSync(node.dir) && !mountsUnder(node.dir).length) {
    rmSync(node.dir, { recursive: true, force: true });
    done.push(`directory ${node.dir}`);
  }
  const left = nodeLeftovers(node);
  if (left.length) throw new Error(`left behind: ${left.join("; ")}`);
  return done;
}

export interface Proc {
  pid: number;
  cmd: string;
}

export function allProcesses(): Proc[] {
  const out: Proc[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      out.push({ pid: Number(p), cmd: readFileSync(`/proc/${p}/cmdline`, "utf8") });
    } catch {
      /* exited */
    }
  }
  return out;
}

/**
 * The processes running from the node's directory: its daemons (their config is there), its
 * shims (started with its socket), anything else started with a path in it. Zombies are dead.
 */
export function processesOf(node: Pick<NodeRecord, "dir">): Proc[] {
  return allProcesses().filter(
    (p) => p.pid !== process.pid && p.cmd.includes(`${node.dir}/`) && !isZombie(p.pid),
  );
}

export function isZombie(pid: number): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\)/, ")"));
  } catch {
    return true;
  }
}

/** SIGKILLs each; returns the PIDs it signalled. */
function killAll(procs: Proc[]): number[] {
  const killed: number[] = [];
  for (const { pid } of procs) {
    try {
      process.kill(pid, "SIGKILL");
      killed.push(pid);
    } catch {
      /* exited */
    }
  }
  return killed;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function cgroupDirs(root: string): string[] {
  if (existsSync(join(CGROUP_V1, "cgroup.controllers"))) return [join(CGROUP_V1, root)];
  return readdirSync(CGROUP_V1)
    .map((c) => join(CGROUP_V1, c, root))
    .filter((d) => existsSync(d));
}

export function walk(dir: string): string[] {
  const out: string[] = [dir];
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return out;
  }
  for (const e of entries) out.push(...walk(join(dir, e)));
  return out;
}

/** The PIDs in the node's cgroups (its containers), in every hierarchy. */
export function cgroupPids(root: string): number[] {
  const pids = new Set<number>();
  for (const base of cgroupDirs(root))
    for (const d of walk(base)) {
      try {
        for (const l of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n"))
          if (l && !isZombie(Number(l))) pids.add(Number(l));
      } catch {
        /* gone */
      }
    }
  return [...pids];
}

/**
 * The sockets of the node's shims. containerd 1.6 puts them in /run/containerd/s whatever its
 * state directory (named by a hash of containerd's address, the namespace and the task id), and
 * a SIGKILLed shim leaves its socket: from the `address` files in the tasks' bundles, and from
 * the running shims' command lines.
 */
export function shimSockets(node: Pick<NodeRecord, "dir" | "socket">): string[] {
  const found = new Set<string>();
  const tasks = join(node.dir, "containerd/state/io.containerd.runtime.v2.task");
  for (const ns of readdirSafe(tasks))
    for (const id of readdirSafe(join(tasks, ns))) {
      try {
        const addr = readFileSync(join(tasks, ns, id, "address"), "utf8").trim();
        if (addr.startsWith("unix://")) found.add(addr.slice("unix://".length));
      } catch {
        /* no address */
      }
    }
  for (const p of allProcesses()) {
    if (!SHIM.test(p.cmd)) continue;
    const args = p.cmd.split("\0");
    const arg = (flag: string) => args[args.indexOf(flag) + 1];
    if (arg("-address") !== node.socket) continue;
    const hash = createHash("sha256")
      .update(join(node.socket, arg("-namespace") ?? "", arg("-id") ?? ""))
      .digest("hex");
    found.add(join("/run/containerd/s", hash));
  }
  return [...found];
}

/**
 * The kubelet's device-plugin socket is /var/lib/kubelet/device-plugins/kubelet.sock whatever
 * its --root-dir (so every kubelet on this host replaces the last one's), and stays when the
 * kubelet ends. Removed once no kubelet runs here any more.
 */
function removeStaleKubeletSocket(): boolean {
  const socket = "/var/lib/kubelet/device-plugins/kubelet.sock";
  if (!lexists(socket)) return false;
  if (allProcesses().some((p) => /(^|\/)kubelet$/.test(p.cmd.split("\0")[0] ?? "") && !isZombie(p.pid)))
    return false;
  rmSync(socket, { force: true });
  return true;
}

/** The node's Pod sandbox IDs, from its CNI IPAM store and its task bundles. */
export function sandboxIds(node: Pick<NodeRecord, "dir">): string[] {
  const ids = new Set<string>();
  const ipam = join(node.dir, "cni/ipam");
  for (const net of readdirSafe(ipam))
    for (const f of readdirSafe(join(ipam, net))) {
      try {
        const id = readFileSync(join(ipam, net, f), "utf8").split(/\s/)[0] ?? "";
        if (/^[0-9a-f]{64}$/.test(id)) ids.add(id);
      } catch {
        /* a directory or gone */
      }
    }
  const tasks = join(node.dir, "containerd/state/io.containerd.runtime.v2.task");
  for (const ns of readdirSafe(tasks)) for (const id of readdirSafe(join(tasks, ns))) ids.add(id);
  return [...ids];
}

/** The node's entries in libcni's result cache, which is host-wide. */
export function cniCacheFiles(network: string | undefined, ids: string[]): string[] {
  if (!network) return [];
  const mine = new Set(ids);
  const out: string[] = [];
  for (const f of readdirSafe(CNI_CACHE)) {
    if (f.startsWith(`${network}-`)) {
      out.push(join(CNI_CACHE, f));
      const id = /^.*-([0-9a-f]{64})-[^-]+$/.exec(f)?.[1];
      if (id) mine.add(id);
    }
  }
  for (const f of readdirSafe(CNI_CACHE)) {
    const id = /^cni-loopback-([0-9a-f]{64})-lo$/.exec(f)?.[1];
    if (id && mine.has(id)) out.push(join(CNI_CACHE, f));
  }
  return out;
}

/** The kubelet's links in /var/log/containers (host-wide) to logs in the node's directory. */
export function logLinks(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSafe(CONTAINER_LOG_LINKS)) {
    const path = join(CONTAINER_LOG_LINKS, f);
    try {
      if (readlinkSync(path).startsWith(`${dir}/`)) out.push(path);
    } catch {
      /* not a link */
    }
  }
  return out;
}

export function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Unmounts everything mounted under `dir` (rootfs overlays, shm, volumes, netns), deepest first. */
export function unmountUnder(dir: string): void {
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(dir);
    if (!points.length) return;
    for (const p of points.sort((a, b) => b.length - a.length)) {
      try {
        run("umount", [p]);
      } catch {
        try {
          run("umount", ["-l", p]);
        } catch {
          /* retried next round */
        }
      }
    }
  }
}

export interface Mount {
  point: string;
  /** For nsfs: the namespace, e.g. "net:[4026532250]". */
  root: string;
  fstype: string;
}

export function mounts(): Mount[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const f = l.split(" ");
      const sep = f.indexOf("-");
      const decode = (p: string) =>
        p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
      return { root: decode(f[3] ?? ""), point: decode(f[4] ?? ""), fstype: f[sep + 1] ?? "" };
    });
}

export function mountsUnder(dir: string): string[] {
  return mounts()
    .map((m) => m.point)
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/** Removes the node's cgroups, deepest first; returns how many it removed. */
function removeCgroup(root: string): number {
  let n = 0;
  for (const base of cgroupDirs(root))
    for (const d of walk(base).reverse()) {
      try {
        rmdirSync(d);
        n++;
      } catch {
        /* busy or gone */
      }
    }
  return n;
}

/** Cgroups, mounts, processes, host files and the directory this node left (empty: none). */
export function nodeLeftovers(node: NodeTeardown): string[] {
  const found: string[] = [];
  for (const d of cgroupDirs(node.cgroupRoot)) found.push(`cgroup ${d}`);
  for (const m of mountsUnder(node.dir)) found.push(`mount ${m}`);
  for (const p of processesOf(node))
    found.push(`process ${p.pid} ${p.cmd.replace(/\0/g, " ").slice(0, 100)}`);
  for (const f of [...cniCacheFiles(node.cniNetwork, []), ...logLinks(node.dir)]) found.push(`file ${f}`);
  if (existsSync(node.dir)) found.push(`directory ${node.dir}`);
  return found;
}

/** Removes the real nodes of owners that died without stopping them. Returns what it removed. */
export function reapRealNodes(registryDir: string = REGISTRY_DIR): string[] {
  const reaped: string[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(registryDir).filter((f) => /^\d+-node-[\w.-]+\.json$/.test(f));
  } catch {
    return reaped;
  }
  for (const f of files) {
    const owner = Number(f.split("-")[0]);
    if (isAlive(owner)) continue;
    let record: NodeRecord | undefined;
    try {
      record = JSON.parse(readFileSync(join(registryDir, f), "utf8")) as NodeRecord;
    } catch {
      /* unreadable: nothing to act on */
    }
    if (record?.dir) {
      try {
        const removed = teardownNode(record);
        reaped.push(`real node ${record.name} (${removed.join(", ") || "nothing left"})`);
      } catch (err) {
        // Keep the record: the next run tries again.
        reaped.push(`real node ${record.name}, not fully: ${(err as Error).message}`);
        continue;
      }
    }
    rmSync(join(registryDir, f), { force: true });
  }
  return reaped;
}
