// Building tasks: a TaskInfo from an image and a command, without writing a PodSpec by hand.
import { DEFAULT_TASK_IMAGE, SIM_EXIT_CODE, SIM_RUN_SECONDS, SIM_START_SECONDS } from "../crds/contract.ts";
import type { TaskInfoInput } from "../crds/offer.ts";
import type { ResourceMap } from "../resources/types.ts";

export interface CommandTaskOptions {
  /** Unique within the framework (a DNS label): the Pod is `<framework>-<id>`. */
  id: string;
  /** What to take from the offer, e.g. from OfferBin.place(). */
  resources: ResourceMap;
  image?: string;
  /** A shell command line run with `sh -c` (ignored when `command` is set). */
  shell?: string;
  command?: string[];
  args?: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** On simulated nodes: seconds before it starts, seconds it runs (omit: until killed), exit code. */
  simulate?: { startSeconds?: number; runSeconds?: number; exitCode?: number };
}

/** A task running one container. Its resources become the container's requests and limits. */
export function commandTask(o: CommandTaskOptions): TaskInfoInput {
  const annotations: Record<string, string> = { ...(o.annotations ?? {}) };
  if (o.simulate?.startSeconds !== undefined)
    annotations[SIM_START_SECONDS] = String(o.simulate.startSeconds);
  if (o.simulate?.runSeconds !== undefined) annotations[SIM_RUN_SECONDS] = String(o.simulate.runSeconds);
  if (o.simulate?.exitCode !== undefined) annotations[SIM_EXIT_CODE] = String(o.simulate.exitCode);
  const command = o.command ?? (o.shell !== undefined ? ["sh", "-c", o.shell] : undefined);
  const container: Record<string, unknown> = {
    name: "main",
    image: o.image ?? DEFAULT_TASK_IMAGE,
    ...(command ? { command } : {}),
    ...(o.args ? { args: o.args } : {}),
    ...(o.env ? { env: Object.entries(o.env).map(([name, value]) => ({ name, value })) } : {}),
  };
  const metadata = {
    ...(o.labels && Object.keys(o.labels).length ? { labels: o.labels } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
  return {
    id: o.id,
    resources: o.resources as TaskInfoInput["resources"],
    template: {
      ...(Object.keys(metadata).length ? { metadata } : {}),
      spec: { containers: [container] },
    },
  };
}
