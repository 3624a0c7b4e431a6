import { describe, expect, it } from "vitest";
import type { FrameworkClient, FrameworkRegistration } from "../sdk/index.ts";
import { unreachableKubeConfig } from "./kubeconfig.test-support.ts";
import { MesosFramework } from "./session.ts";

function framework(): MesosFramework {
  const kubeConfig = unreachableKubeConfig();
  const spec = { roles: ["*"] } as unknown as FrameworkRegistration;
  return new MesosFramework(
    { id: "fw-1", namespace: "ns", name: "fw-1", principal: undefined, spec },
    {
      kubeConfig,
      defaultImage: "busybox",
      heartbeatSeconds: 15,
      updateRetryMs: 1000,
      maxBufferedBytes: 1 << 20,
      log: () => {},
    },
  );
}

/** A client whose stop (its Lease release) finishes only when the test says so. */
function slowClient() {
  let finish!: () => void;
  const released = new Promise<void>((resolve) => (finish = resolve));
  let stops = 0;
  const client = {
    onAny: () => () => {},
    stop: () => {
      stops++;
      return released;
    },
  } as unknown as FrameworkClient;
  return { client, finish, stops: () => stops };
}

describe("MesosFramework.stopClient", () => {
  it("a second stop (the API closing) waits for the release the stream's end began", async () => {
    const fw = framework();
    const c = slowClient();
    fw.bindClient(c.client);
    let first = false;
    let second = false;
    void fw.stopClient().then(() => (first = true));
    void fw.stopClient().then(() => (second = true));
    await new Promise((r) => setImmediate(r));
    expect([first, second, c.stops()]).toEqual([false, false, 1]);
    c.finish();
    await new Promise((r) => setImmediate(r));
    expect([first, second]).toEqual([true, true]);
    fw.dispose();
  });

  it("with no client and nothing stopping, returns at once", async () => {
    const fw = framework();
    await expect(fw.stopClient()).resolves.toBeUndefined();
    fw.dispose();
  });
});
