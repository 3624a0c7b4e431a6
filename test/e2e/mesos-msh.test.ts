// mesos-go's `msh` (github.com/mesos/mesos-go v0.0.11, built from the Go module proxy by
// test/mesos/msh.ts, unmodified) runs a command through kube-offers' scheduler API, speaking
// protobuf as it does by default: it subscribes, takes an offer, launches the command as a task
// (or, with -pod, as a task group on the default executor), suppresses, acknowledges the
// updates and exits 0 on TASK_FINISHED. The API server shows the task Pod run and end.
//
// The pool's nodes are simulated: no process runs there, so the test plays the command's exit —
// it annotates the running Pod with the simulator's run-seconds=0, and the simulated kubelet
// ends the Pod Succeeded (exit code 0), as a real one does when the command exits 0.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SIM_RUN_SECONDS } from "../../src/crds/contract.ts";
import { ensureMsh } from "../mesos/msh.ts";
import type { Started } from "../mesos/processes.ts";
import { startTestbed, type Testbed } from "../mesos/testbed.ts";
import { Pool } from "./pool.ts";
import { kubectl, waitFor } from "./support.ts";

let pool: Pool;
let msh: string;
let tb: Testbed | undefined;

beforeAll(async () => {
  // A cold build of msh downloads mesos-go's dependencies and compiles them (a few minutes).
  [msh, pool] = await Promise.all([ensureMsh(), Pool.start("msh", { nodes: 1 })]);
}, 900_000);
afterEach(async () => {
  await tb?.close();
  tb = undefined;
});
afterAll(async () => {
  await pool?.stop();
});

/** Its log so far, for failure messages (msh logs every event it handles to stderr). */
function logOf(p: Started): string {
  return p.output().stderr.slice(-6000);
}

async function runMsh(name: string, flags: string[], command: string[]) {
  tb = await startTestbed(pool, name, (namespace) => ({
    // msh sends no principal and has no credentials to give: its frameworks go to the default namespace.
    allowUnauthenticated: true,
    defaultNamespace: namespace,
    updateRetrySeconds: 2,
    leaseSeconds: 3,
  }));
  const { namespace, pods, processes } = tb;
  const master = new URL(tb.api.url).host;
  const p = processes.start(msh, [
    "-master",
    master,
    "-framework_name",
    `${name}-e2e`,
    "-task_name",
    name,
    "-cpus",
    "0.1",
    "-memory",
    "32",
    ...flags,
    "--",
    ...command,
  ]);
  const seen = await waitFor(
    "msh's task Pod running",
    async () => {
      const exit = p.ended();
      if (exit) return { exit, running: undefined };
      const running = pods.pods().find((x) => x.phases.includes("Running"));
      return running ? { exit: undefined, running } : undefined;
    },
    90_000,
    250,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\nmsh log:\n${logOf(p)}`);
  });
  if (!seen.running)
    throw new Error(`msh exited (${seen.exit?.signal ?? seen.exit?.code}) before its task ran:\n${logOf(p)}`);
  const pod = seen.running.pod;
  const podName = pod.metadata?.name ?? "";
  // The command finishes (see the top of the file).
  await kubectl(["-n", namespace, "annotate", "pod", podName, `${SIM_RUN_SECONDS}=0`]);
  const exit = await processes.waitExit(p, 90_000, "msh");
  if (exit.code !== 0) throw new Error(`msh exited ${exit.signal ?? exit.code}, not 0:\n${logOf(p)}`);
  const phases = await waitFor("the Pod's end on the watch", async () => {
    const seen = pods.pods().find((x) => x.pod.metadata?.name === podName);
    return seen?.phases.includes("Succeeded") ? seen.phases : undefined;
  });
  return { pod, phases, log: exit.stderr, namespace };
}

describe("mesos-go msh (protobuf scheduler) against kube-offers", () => {
  it("runs a command task to TASK_FINISHED", async () => {
    const r = await runMsh("msh-cmd", [], ["sh", "-c", "echo hello from msh"]);
    expect(r.phases).toEqual(expect.arrayContaining(["Running", "Succeeded"]));
    // msh sends CommandInfo{shell: false, value: argv[0], arguments: argv}: the Pod runs argv.
    const container = r.pod.spec?.containers[0];
    expect([...(container?.command ?? []), ...(container?.args ?? [])]).toEqual([
      "sh",
      "-c",
      "echo hello from msh",
    ]);
    expect(r.pod.metadata?.labels?.["kubeoffers.io/framework"]).toMatch(/^msh-cmd-e2e-[0-9a-f]{8}$/);
    // Its log: the updates it acknowledged, in order.
    expect(r.log).toMatch(/TASK_RUNNING[\s\S]*TASK_FINISHED/);
    const fws = JSON.parse(await kubectl(["-n", r.namespace, "get", "frameworks", "-o", "json"])) as {
      items: { spec: { displayName?: string } }[];
    };
    expect(fws.items.map((f) => f.spec.displayName)).toEqual(["msh-cmd-e2e"]);
  }, 300_000);

  it("runs a task group (-pod) to TASK_FINISHED", async () => {
    const r = await runMsh("msh-pod", ["-pod"], ["sh", "-c", "echo hello from an msh task group"]);
    expect(r.phases).toEqual(expect.arrayContaining(["Running", "Succeeded"]));
    // One task in the group: one Pod with one container running it.
    expect(r.pod.spec?.containers).toHaveLength(1);
    const container = r.pod.spec?.containers[0];
    expect([...(container?.command ?? []), ...(container?.args ?? [])]).toEqual([
      "sh",
      "-c",
      "echo hello from an msh task group",
    ]);
    expect(r.log).toMatch(/TASK_RUNNING[\s\S]*TASK_FINISHED/);
  }, 300_000);
});
