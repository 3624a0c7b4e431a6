import { describe, expect, it } from "vitest";
import type { Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { type Unreadable, UnreadableObjects } from "./unreadable.ts";

describe("UnreadableObjects", () => {
  it("logs, counts and tells each object once per resourceVersion", async () => {
    const logged: string[] = [];
    const events: string[] = [];
    const metrics = new Metrics(false);
    const u = new UnreadableObjects({
      log: { warn: (_f: object, msg: string) => logged.push(msg) } as unknown as Logger,
      metrics,
      writer: { event: async (r, type, reason) => void events.push(`${r.kind}/${r.name} ${type} ${reason}`) },
    });
    const pod = (rv: string): Unreadable => ({
      kind: "Pod",
      apiVersion: "v1",
      namespace: "ns",
      name: "a-t1",
      resourceVersion: rv,
      reason: "UnreadableResources",
      message: "bad annotation",
      consequence: "its containers' requests count against its node instead",
    });
    u.report(pod("1"));
    u.report(pod("1"));
    u.report(pod("2"));
    expect(logged).toHaveLength(2);
    expect(events).toEqual(["Pod/a-t1 Warning UnreadableResources", "Pod/a-t1 Warning UnreadableResources"]);
    const text = await metrics.registry.metrics();
    expect(text).toContain('kubeoffers_unreadable_objects_total{kind="Pod",reason="UnreadableResources"} 2');
  });
});
