// Records, from a watch on the API server, every phase each task Pod of a namespace went through:
// a client's task may be cleaned up soon after it ends, so its end is read from the watch, not
// from one list at the end.
import { type KubeConfig, type V1Pod, Watch } from "@kubernetes/client-node";

export class PodPhases {
  private readonly seen = new Map<string, { pod: V1Pod; phases: string[] }>();
  private abort: AbortController | undefined;
  private failure: unknown;
  private stopped = false;

  /** Starts watching the Pods of `namespace` that carry the kubeoffers.io/task-id label. */
  static async start(kc: KubeConfig, namespace: string): Promise<PodPhases> {
    const w = new PodPhases();
    w.abort = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { labelSelector: "kubeoffers.io/task-id" },
      (_type: string, pod: V1Pod) => w.record(pod),
      (err: unknown) => {
        if (err && !w.stopped) w.failure = err;
      },
    );
    return w;
  }

  private record(pod: V1Pod): void {
    const name = pod.metadata?.name ?? "";
    const entry = this.seen.get(name) ?? { pod, phases: [] };
    entry.pod = pod;
    const phase = pod.status?.phase ?? "Pending";
    if (entry.phases[entry.phases.length - 1] !== phase) entry.phases.push(phase);
    this.seen.set(name, entry);
  }

  /** Pods seen so far (last version of each) with the phases they went through, in order. */
  pods(): { pod: V1Pod; phases: string[] }[] {
    if (this.failure) throw new Error(`the Pod watch failed: ${String(this.failure)}`);
    return [...this.seen.values()];
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}
