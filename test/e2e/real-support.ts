// What the real-node tests share: a minimal framework that runs queued tasks in the offers they
// fit, `kubectl port-forward` as a client outside the cluster uses it, and a TCP line reader.
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import { inject } from "vitest";
import {
  type FrameworkClient,
  OfferBin,
  type Operation,
  type ResourceMap,
  type ResourceRequest,
  type Task,
  type TaskInfoInput,
} from "../../src/sdk/index.ts";
import { waitFor } from "./helm-support.ts";

interface Queued {
  reqs: ResourceRequest[];
  build: (r: ResourceMap[]) => TaskInfoInput[];
  /** Launched together in one Pod (launchGroup), or each task in its own (launch). */
  group: boolean;
}

/**
 * A minimal framework: tasks wait in a queue and go into the first offer they fit (a group only
 * whole); every offer with nothing to place is declined for a second. Keeps every update per task.
 */
export class TaskRunner {
  readonly client: FrameworkClient;
  private readonly queue: Queued[] = [];
  private readonly seen = new Map<string, Task[]>();

  constructor(client: FrameworkClient) {
    this.client = client;
    client.on("update", ({ task }) => {
      this.seen.set(task.id, [...(this.seen.get(task.id) ?? []), task]);
    });
    client.on("offer", async ({ offer }) => {
      let left: ResourceMap = offer.resources;
      const launch: TaskInfoInput[] = [];
      const ops: Operation[] = [];
      for (let i = 0; i < this.queue.length; ) {
        const item = this.queue[i];
        // A group is placed whole or not at all.
        const bin = new OfferBin(offer.name, left);
        const placed = item?.reqs.map((r) => bin.place(r));
        if (item && placed?.every((r) => r !== undefined)) {
          left = bin.remaining;
          const tasks = item.build(placed);
          if (item.group) ops.push({ launchGroup: { tasks } });
          else launch.push(...tasks);
          this.queue.splice(i, 1);
        } else i++;
      }
      if (launch.length) ops.unshift({ launch: { tasks: launch } });
      if (ops.length) await client.accept(offer, ops);
      else await client.decline(offer, 1);
    });
  }

  /** Queues one task: it goes into the first offer `req` fits. */
  submit(req: ResourceRequest, build: (r: ResourceMap) => TaskInfoInput): void {
    this.enqueue({ reqs: [req], build: ([r]) => [build(r ?? {})], group: false });
  }

  /** Queues a launch group: its tasks go together into one offer, as one Pod. */
  submitGroup(reqs: ResourceRequest[], build: (r: ResourceMap[]) => TaskInfoInput[]): void {
    this.enqueue({ reqs, build, group: true });
  }

  private enqueue(q: Queued): void {
    this.queue.push(q);
    void this.client.revive().catch(() => {});
  }

  until(id: string, pred: (t: Task) => boolean, timeoutMs = 60_000): Promise<Task> {
    return waitFor(
      `task ${id}: ${(this.seen.get(id) ?? []).map((t) => t.state).join(" → ") || "no update"}`,
      async () => (this.seen.get(id) ?? []).find(pred),
      timeoutMs,
    );
  }
}

/** `kubectl port-forward` to a local port (a client outside the cluster); stop() ends it by PID. */
export async function portForward(
  namespace: string,
  target: string,
  remote: number,
): Promise<{ port: number; stop: () => void }> {
  const child = spawn(
    join(inject("binDir"), "kubectl"),
    ["--kubeconfig", inject("kubeconfig"), "-n", namespace, "port-forward", target, `:${remote}`],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const stop = () => {
    if (child.exitCode === null) child.kill("SIGKILL");
  };
  try {
    const port = await waitFor(
      `kubectl port-forward ${target}: ${out}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`kubectl port-forward exited: ${out}`);
        const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
        return m ? Number(m[1]) : undefined;
      },
      30_000,
      100,
    );
    return { port, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

/** The first line a TCP server at ip:port sends, or undefined when it does not answer yet. */
export function readLine(ip: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = connect({ host: ip, port, timeout: 2000 });
    let data = "";
    sock.on("data", (d: Buffer) => {
      data += d.toString();
      if (data.includes("\n")) {
        sock.destroy();
        resolve(data.split("\n")[0]);
      }
    });
    sock.on("error", () => resolve(undefined));
    sock.on("timeout", () => {
      sock.destroy();
      resolve(undefined);
    });
    sock.on("close", () => resolve(data ? data.split("\n")[0] : undefined));
  });
}
