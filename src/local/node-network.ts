// The network real nodes live on. A bridge in the host's namespace, on an address range
// reserved for testing (198.18.0.0/15); one network namespace per node, joined to the bridge by
// a veth pair; and one DNAT rule that lets nodes — and Pods, through kube-proxy and the
// `kubernetes` Service — reach the API server, which itself stays on loopback. Everything made
// here is recorded in a registry file first, so a run that dies uncleanly is cleaned up by the
// next one (reapNodeNetworks), and stop() removes it all.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isAlive } from "./processes.ts";

export interface NodeAddress {
  index: number;
  /** Network namespace name (under /var/run/netns). */
  netns: string;
  /** The node's address on the bridge: its InternalIP. */
  ip: string;
  /** The node's Pod range; the node routes the others' ranges to their nodes. */
  podCidr: string;
}

interface Record_ {
  owner: number;
  bridge: string;
  chain: string;
  netns: string[];
}

/** Runs a command; throws with its stderr (and the command) on failure. */
export function run(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${(e.stderr || e.message).trim()}`);
  }
}

function tryRun(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** 10.88.0.0/16: every node's Pod range is a /24 in it. */
export const CLUSTER_POD_CIDR = "10.88.0.0/16";

export class NodeNetwork {
  readonly id: string;
  readonly bridge: string;
  readonly chain: string;
  /** The host's address on the bridge: nodes reach the API server here. */
  readonly hostIp: string;
  private readonly prefix: string;
  private readonly registryFile: string;
  private readonly record: Record_;
  private readonly nodes: NodeAddress[] = [];
  private nextIndex = 0;
  private apiRule: string[] | undefined;

  private constructor(registryDir: string) {
    this.id = randomBytes(2).toString("hex");
    this.bridge = `kob-${this.id}`;
    this.chain = `KUBE-OFFERS-${this.id.toUpperCase()}`;
    this.prefix = `198.18.${freeThirdOctet()}`;
    this.hostIp = `${this.prefix}.1`;
    mkdirSync(registryDir, { recursive: true });
    this.registryFile = join(registryDir, `${process.pid}-net-${this.id}.json`);
    this.record = { owner: process.pid, bridge: this.bridge, chain: this.chain, netns: [] };
    this.save();
  }

  /** Makes the bridge. Needs root (CAP_NET_ADMIN) and iproute2. */
  static create(registryDir: string): NodeNetwork {
    const net = new NodeNetwork(registryDir);
    try {
      run("ip", ["link", "add", net.bridge, "type", "bridge"]);
      run("ip", ["addr", "add", `${net.hostIp}/24`, "dev", net.bridge]);
      run("ip", ["link", "set", net.bridge, "up"]);
      // DNAT to 127.0.0.1 needs the kernel to route to loopback from this interface.
      run("sysctl", ["-q", "-w", `net.ipv4.conf.${net.bridge}.route_localnet=1`]);
      run("iptables", ["-w", "-t", "nat", "-N", net.chain]);
      run("iptables", ["-w", "-t", "nat", "-A", "PREROUTING", "-i", net.bridge, "-j", net.chain]);
    } catch (err) {
      net.destroy();
      throw err;
    }
    return net;
  }

  /** Lets the nodes reach the API server (listening on 127.0.0.1:port) at hostIp:port. */
  exposeApiserver(port: number): void {
    this.apiRule = ["-d", this.hostIp, "-p", "tcp", "--dport", String(port)];
    run("iptables", [
      "-w",
      "-t",
      "nat",
      "-A",
      this.chain,
      ...this.apiRule,
      "-j",
      "DNAT",
      "--to-destination",
      `127.0.0.1:${port}`,
    ]);
  }

  /**
   * A network namespace for node `index` (default: the next unused one), on the bridge, with a
   * default route to the host.
   */
  addNode(index: number = this.nextIndex): NodeAddress {
    if (this.nodes.some((n) => n.index === index))
      throw new Error(`node ${index} is already on ${this.bridge}`);
    this.nextIndex = Math.max(this.nextIndex, index + 1);
    const netns = `kube-offers-${this.id}-${index}`;
    const host = hostVeth(this.id, index);
    const peer = `ko${this.id}${index}n`;
    const node: NodeAddress = {
      index,
      netns,
      ip: `${this.prefix}.${10 + index}`,
      podCidr: `10.88.${index}.0/24`,
    };
    this.record.netns.push(netns);
    this.save();
    run("ip", ["netns", "add", netns]);
    run("ip", ["link", "add", host, "type", "veth", "peer", "name", peer]);
    run("ip", ["link", "set", peer, "netns", netns]);
    run("ip", ["link", "set", host, "master", this.bridge]);
    run("ip", ["link", "set", host, "up"]);
    const inNs = (...args: string[]) => run("ip", ["-n", netns, ...args]);
    inNs("link", "set", "lo", "up");
    inNs("link", "set", peer, "name", "eth0");
    inNs("addr", "add", `${node.ip}/24`, "dev", "eth0");
    inNs("link", "set", "eth0", "up");
    inNs("route", "add", "default", "via", this.hostIp);
    // Forward between the node's Pods and the other nodes (Pod traffic to the outside is
    // masqueraded by the CNI bridge plugin).
    run("ip", ["netns", "exec", netns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    for (const other of this.nodes) {
      inNs("route", "add", other.podCidr, "via", other.ip);
      run("ip", ["-n", other.netns, "route", "add", node.podCidr, "via", node.ip]);
    }
    this.nodes.push(node);
    return node;
  }

  /** Removes a node's namespace (its veth pair goes with it) and the routes to its Pods. */
  removeNode(node: NodeAddress): void {
    for (const other of this.nodes)
      if (other !== node) tryRun("ip", ["-n", other.netns, "route", "del", node.podCidr]);
    // The veth pair goes with the namespace, but asynchronously (the kernel's netns cleanup):
    // delete it here, so that it is gone on return.
    tryRun("ip", ["link", "delete", hostVeth(this.id, node.index)]);
    tryRun("ip", ["netns", "delete", node.netns]);
    const i = this.nodes.indexOf(node);
    if (i >= 0) this.nodes.splice(i, 1);
    this.record.netns = this.record.netns.filter((n) => n !== node.netns);
    this.save();
  }

  /** Removes every namespace, link and iptables rule this network made. Idempotent. */
  destroy(): void {
    for (const node of [...this.nodes]) this.removeNode(node);
    removeRecorded(this.record);
    rmSync(this.registryFile, { force: true });
  }

  private save(): void {
    writeFileSync(this.registryFile, JSON.stringify(this.record));
  }
}

/** The host end of node `index`'s veth pair on network `id`. */
function hostVeth(id: string, index: number): string {
  return `ko${id}${index}h`;
}

function removeRecorded(r: Record_): void {
  const id = r.bridge.replace(/^kob-/, "");
  for (const ns of r.netns) {
    const index = /-(\d+)$/.exec(ns)?.[1];
    if (index !== undefined) tryRun("ip", ["link", "delete", hostVeth(id, Number(index))]);
    tryRun("ip", ["netns", "delete", ns]);
  }
  while (tryRun("iptables", ["-w", "-t", "nat", "-D", "PREROUTING", "-i", r.bridge, "-j", r.chain]));
  tryRun("iptables", ["-w", "-t", "nat", "-F", r.chain]);
  tryRun("iptables", ["-w", "-t", "nat", "-X", r.chain]);
  tryRun("ip", ["link", "delete", r.bridge]);
}

/** Removes the networks of runs that died without cleaning up. Returns what it removed. */
export function reapNodeNetworks(registryDir: string): string[] {
  const reaped: string[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(registryDir).filter((f) => /^\d+-net-[0-9a-f]+\.json$/.test(f));
  } catch {
    return reaped;
  }
  for (const f of files) {
    const owner = Number(f.split("-")[0]);
    if (isAlive(owner)) continue;
    try {
      const r = JSON.parse(readFileSync(join(registryDir, f), "utf8")) as Record_;
      removeRecorded(r);
      reaped.push(`network ${r.bridge} (${r.netns.length} namespaces)`);
    } catch {
      /* unreadable: nothing to act on */
    }
    rmSync(join(registryDir, f), { force: true });
  }
  return reaped;
}

/** A /24 in 198.18.0.0/16 that no interface on this host uses yet. */
function freeThirdOctet(): number {
  let used = "";
  try {
    used = run("ip", ["-4", "-o", "addr", "show"]);
  } catch {
    /* no iproute2: create() reports it */
  }
  for (let i = 0; i < 64; i++) {
    const octet = 1 + (randomBytes(1)[0] ?? 0);
    if (octet < 255 && !used.includes(` 198.18.${octet}.`)) return octet;
  }
  throw new Error("no free /24 in 198.18.0.0/16 for the real nodes' bridge");
}

/**
 * What a network with this id would own and is still there (for teardown tests): its bridge and
 * veths, its nodes' namespaces, and any iptables chain or rule in the host's tables that names
 * its chain, bridge or veths (or its host address, when given).
 */
export function leftovers(id: string, hostIp?: string): string[] {
  const found: string[] = [];
  const links = tryOut("ip", ["-o", "link", "show"]);
  for (const m of links.matchAll(new RegExp(`\\d+: ((?:kob-|ko)${id}[^:@\\s]*)`, "g")))
    found.push(`link ${m[1]}`);
  const netns = tryOut("ip", ["netns", "list"]);
  for (const m of netns.matchAll(new RegExp(`^(kube-offers-${id}-\\d+)`, "gm"))) found.push(`netns ${m[1]}`);
  const names = [`KUBE-OFFERS-${id.toUpperCase()}\\b`, `\\bkob-${id}\\b`, `\\bko${id}\\d+[hn]\\b`];
  if (hostIp) names.push(`\\b${hostIp.replace(/\./g, "\\.")}\\b`);
  const mentions = new RegExp(names.join("|"));
  for (const table of ["nat", "filter", "mangle", "raw"])
    for (const rule of tryOut("iptables", ["-w", "-t", table, "-S"]).split("\n"))
      if (mentions.test(rule)) found.push(`iptables -t ${table} ${rule}`);
  return found;
}

function tryOut(cmd: string, args: string[]): string {
  try {
    return run(cmd, args);
  } catch {
    return "";
  }
}
