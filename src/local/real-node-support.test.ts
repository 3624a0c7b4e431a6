import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "./binaries.ts";
import { type Host, parseRequirements, REQUIREMENTS_FILE, realNodeSupport } from "./real-node-support.ts";

const LIST = readFileSync(REQUIREMENTS_FILE, "utf8");
const REQUIREMENTS = parseRequirements(LIST);
const NODE_FILES = REQUIREMENTS.filter((r) => r.use === "node").map((r) => r.path);

/** A machine that has `files` and answers `run` with `runs` (a throw for a failing command). */
function fakeHost(over: Partial<Host> & { files?: string[]; filesystems?: string } = {}) {
  const files = new Set(over.files ?? [...NODE_FILES, "/sys/fs/cgroup/cgroup.controllers"]);
  const ran: string[] = [];
  const host: Host = {
    platform: "linux",
    uid: 0,
    exists: (p) => files.has(p),
    readFile: (p) => {
      if (p === REQUIREMENTS_FILE) return LIST;
      if (p === "/proc/filesystems") return over.filesystems ?? "nodev\tproc\nnodev\toverlay\n\text4\n";
      throw new Error(`ENOENT: ${p}`);
    },
    run: (cmd, args) => void ran.push([cmd, ...args].join(" ")),
    ...over,
  };
  return { host, ran };
}

describe("realNodeSupport", () => {
  it("a machine with everything: ok, after checking network namespaces and iptables NAT", () => {
    const { host, ran } = fakeHost();
    expect(realNodeSupport(host)).toEqual({ ok: true, missing: [] });
    expect(ran).toEqual(["ip netns list", "iptables -w -t nat -S"]);
  });

  it("names each missing piece: OS, root, a file with its Debian package, cgroup controllers, overlayfs", () => {
    const { host, ran } = fakeHost({
      platform: "darwin",
      uid: 501,
      files: NODE_FILES.filter((p) => p !== "/usr/bin/containerd" && p !== "/usr/lib/cni/portmap").concat(
        "/sys/fs/cgroup/cpu",
      ),
      filesystems: "nodev\tproc\n\text4\n",
    });
    expect(realNodeSupport(host)).toEqual({
      ok: false,
      missing: [
        "Linux (this is darwin)",
        "root (containerd, the kubelet and network namespaces need it)",
        "containerd (Debian package containerd): /usr/bin/containerd not found",
        "CNI portmap plugin (Debian package containernetworking-plugins): /usr/lib/cni/portmap not found",
        "the memory cgroup controller (/sys/fs/cgroup/memory)",
        "the pids cgroup controller (/sys/fs/cgroup/pids)",
        "overlayfs in the kernel (containerd's snapshotter)",
      ],
    });
    // With a piece missing, nothing is run on the machine.
    expect(ran).toEqual([]);
  });

  it("what only the images need (strip) is not asked of a node", () => {
    const images = REQUIREMENTS.filter((r) => r.use === "images").map((r) => r.path);
    expect(images).toContain("/usr/bin/strip");
    const { host } = fakeHost();
    expect(host.exists("/usr/bin/strip")).toBe(false);
    expect(realNodeSupport(host).ok).toBe(true);
  });

  it("names a failing network probe with its error", () => {
    const { host } = fakeHost({
      run: (cmd) => {
        if (cmd === "iptables")
          throw new Error("iptables -w -t nat -S: can't initialize iptables table `nat'");
      },
    });
    expect(realNodeSupport(host)).toEqual({
      ok: false,
      missing: [
        "network namespaces and iptables NAT: iptables -w -t nat -S: can't initialize iptables table `nat'",
      ],
    });
  });

  it("an unreadable list of requirements is named, not thrown", () => {
    const { host } = fakeHost({
      readFile: (p) => {
        if (p === "/proc/filesystems") return "nodev\toverlay\n";
        throw new Error(`ENOENT: no such file, open '${p}'`);
      },
    });
    const s = realNodeSupport(host);
    expect(s.ok).toBe(false);
    expect(s.missing).toEqual([
      `the list of what a node needs: ENOENT: no such file, open '${REQUIREMENTS_FILE}'`,
    ]);
  });
});

describe("hack/node/requirements.txt", () => {
  it("lists every runtime piece with its Debian package", () => {
    expect(Object.fromEntries(REQUIREMENTS.map((r) => [r.path, r.pkg]))).toMatchObject({
      "/usr/bin/containerd": "containerd",
      "/usr/sbin/runc": "runc",
      "/usr/lib/cni/bridge": "containernetworking-plugins",
      "/usr/bin/busybox": "busybox-static",
      "/usr/bin/strip": "binutils",
    });
  });

  it("a malformed line is refused with its line number", () => {
    expect(() => parseRequirements("# c\n/usr/bin/x pkg sometimes what\n")).toThrow(
      /requirements\.txt:2: want "<path> <package> node\|images <what>"/,
    );
  });
});

describe("hack/node/runtime.sh", () => {
  const dir = mkdtempSync(join(tmpdir(), "node-runtime-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the script against a root holding `files`, with apt-get and id stubbed on PATH. */
  function runtime(files: string[], uid = 0) {
    const root = mkdtempSync(join(dir, "root-"));
    mkdirSync(join(root, "usr/sbin"), { recursive: true });
    for (const f of files) {
      mkdirSync(dirname(join(root, f)), { recursive: true });
      writeFileSync(join(root, f), "");
    }
    const bin = mkdtempSync(join(dir, "bin-"));
    const calls = join(bin, "calls");
    const stub = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    // apt-get records its arguments and whether the policy that stops services was in place.
    stub("apt-get", `echo "$* policy=$(cat ${root}/usr/sbin/policy-rc.d 2>/dev/null | tail -1)" >> ${calls}`);
    stub("id", `echo ${uid}`);
    const bash = execFileSync("sh", ["-c", "command -v bash"], { encoding: "utf8" }).trim();
    const r = spawnSync(bash, [join(repoRoot, "hack/node/runtime.sh")], {
      encoding: "utf8",
      env: { PATH: `${bin}:/usr/bin:/bin`, KUBE_OFFERS_NODE_ROOT: root },
    });
    let called: string[] = [];
    try {
      called = readFileSync(calls, "utf8").trim().split("\n");
    } catch {
      // apt-get never ran
    }
    return { code: r.status, stderr: r.stderr, called, root };
  }

  it("installs the package of every missing file once, with services kept from starting, then removes the policy", () => {
    const r = runtime(["/usr/bin/nsenter", "/usr/sbin/ip"]);
    expect(r.code).toBe(0);
    const wanted = [
      ...new Set(REQUIREMENTS.filter((q) => !["util-linux", "iproute2"].includes(q.pkg)).map((q) => q.pkg)),
    ].sort();
    expect(r.called).toEqual([
      "update -qq policy=exit 101",
      `install -y -qq --no-install-recommends ${wanted.join(" ")} policy=exit 101`,
    ]);
    expect(r.stderr).toContain(`installing ${wanted.join(" ")}`);
    expect(() => readFileSync(join(r.root, "usr/sbin/policy-rc.d"))).toThrow(/ENOENT/);
  });

  it("does nothing when every file is there", () => {
    const r = runtime(REQUIREMENTS.map((q) => q.path));
    expect(r).toMatchObject({ code: 0, stderr: "", called: [] });
  });

  it("not root: names the missing packages, installs nothing, exits 0", () => {
    const r = runtime(
      REQUIREMENTS.filter((q) => q.pkg !== "binutils").map((q) => q.path),
      1000,
    );
    expect(r.code).toBe(0);
    expect(r.called).toEqual([]);
    expect(r.stderr).toBe(
      "[node-runtime] real nodes need Debian packages: binutils (not root with apt-get here: not installed)\n",
    );
  });
});
