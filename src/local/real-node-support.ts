// Can this machine run real nodes? What a node needs of the machine is listed once, in
// hack/node/requirements.txt (hack/node/runtime.sh installs from the same list); this checks
// that list and the kernel, and names every missing piece. The machine is reached through a
// Host, so that a test can stand in for it.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./binaries.ts";
import { run } from "./node-network.ts";

export interface Support {
  ok: boolean;
  /** What this machine lacks to run containers, each naming the missing piece. */
  missing: string[];
}

/** One line of hack/node/requirements.txt. */
export interface Requirement {
  path: string;
  /** The Debian package that installs it. */
  pkg: string;
  /** "node": a real node cannot start without it; "images": building the images needs it. */
  use: "node" | "images";
  what: string;
}

export const REQUIREMENTS_FILE = join(repoRoot, "hack/node/requirements.txt");

/** Parses hack/node/requirements.txt: `path package use what…`, `#` comments. */
export function parseRequirements(text: string): Requirement[] {
  const out: Requirement[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [path = "", pkg = "", use = "", ...what] = line.split(/\s+/);
    if (!path.startsWith("/") || !pkg || (use !== "node" && use !== "images") || what.length === 0)
      throw new Error(
        `${REQUIREMENTS_FILE}:${i + 1}: want "<path> <package> node|images <what>", got "${line}"`,
      );
    out.push({ path, pkg, use, what: what.join(" ") });
  }
  return out;
}

/** The machine as realNodeSupport sees it. */
export interface Host {
  platform: NodeJS.Platform;
  uid: number | undefined;
  exists(path: string): boolean;
  readFile(path: string): string;
  /** Runs a command; throws with its error output when it fails. */
  run(cmd: string, args: string[]): void;
}

export const thisHost: Host = {
  platform: process.platform,
  uid: process.getuid?.(),
  exists: existsSync,
  readFile: (p) => readFileSync(p, "utf8"),
  run: (cmd, args) => void run(cmd, args),
};

/** Can this machine run real nodes? Names every missing piece; never throws. */
export function realNodeSupport(host: Host = thisHost): Support {
  const missing: string[] = [];
  if (host.platform !== "linux") missing.push(`Linux (this is ${host.platform})`);
  if (host.uid !== 0) missing.push("root (containerd, the kubelet and network namespaces need it)");
  let requirements: Requirement[] = [];
  try {
    requirements = parseRequirements(host.readFile(REQUIREMENTS_FILE));
  } catch (err) {
    missing.push(`the list of what a node needs: ${(err as Error).message}`);
  }
  for (const r of requirements) {
    if (r.use === "node" && !host.exists(r.path))
      missing.push(`${r.what} (Debian package ${r.pkg}): ${r.path} not found`);
  }
  const cgroupV2 = host.exists("/sys/fs/cgroup/cgroup.controllers");
  for (const c of ["memory", "cpu", "pids"]) {
    if (!cgroupV2 && !host.exists(join("/sys/fs/cgroup", c)))
      missing.push(`the ${c} cgroup controller (/sys/fs/cgroup/${c})`);
  }
  let filesystems = "";
  try {
    filesystems = host.readFile("/proc/filesystems");
  } catch {
    // not Linux: said above
  }
  if (!/\toverlay$/m.test(filesystems)) missing.push("overlayfs in the kernel (containerd's snapshotter)");
  if (missing.length === 0) {
    try {
      host.run("ip", ["netns", "list"]);
      host.run("iptables", ["-w", "-t", "nat", "-S"]);
    } catch (err) {
      missing.push(`network namespaces and iptables NAT: ${(err as Error).message}`);
    }
  }
  return { ok: missing.length === 0, missing };
}
