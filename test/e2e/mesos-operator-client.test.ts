// An operator-API client that no one here wrote — @dcos/mesos-client 1.0.0 from npm, unmodified
// (the DC/OS UI's; it runs on the browser's XMLHttpRequest, which test/mesos/xhr.ts provides on
// node:http) — reads kube-offers' state with GET_STATE and follows the event stream (SUBSCRIBE)
// while a mesoshttp framework's tasks start and finish: SUBSCRIBED with the state, then
// FRAMEWORK_ADDED, TASK_ADDED and TASK_UPDATED up to TASK_FINISHED, as the task Pods run.
import mesosClient from "@dcos/mesos-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  MESOSHTTP_FRAMEWORK_NAME,
  mesoshttpSummary,
  startMesoshttpFramework,
} from "../mesos/mesoshttp-framework.ts";
import { startTestbed, type Testbed } from "../mesos/testbed.ts";
import { mesosVenv } from "../mesos/venv.ts";
import { installXMLHttpRequest } from "../mesos/xhr.ts";
import { Pool } from "./pool.ts";
import { waitFor } from "./support.ts";

let pool: Pool;
let tb: Testbed | undefined;
let uninstallXhr: (() => void) | undefined;

beforeAll(async () => {
  uninstallXhr = installXMLHttpRequest();
  [, pool] = await Promise.all([mesosVenv(), Pool.start("mesosop", { nodes: 2 })]);
}, 400_000);
afterEach(async () => {
  await tb?.close();
  tb = undefined;
});
afterAll(async () => {
  await pool?.stop();
  uninstallXhr?.();
});

// The operator API's JSON (include/mesos/v1/master/master.proto), as far as the test reads it.
interface Task {
  task_id: { value: string };
  framework_id: { value: string };
  agent_id: { value: string };
  state: string;
}
interface GetState {
  get_tasks?: { tasks?: Task[]; completed_tasks?: Task[] };
  get_frameworks?: { frameworks?: { framework_info: { id?: { value: string }; name: string } }[] };
  get_agents?: { agents?: { agent_info: { id?: { value: string }; hostname: string }; active: boolean }[] };
}
interface Event {
  type: string;
  subscribed?: { get_state?: GetState; heartbeat_interval_seconds?: number };
  task_added?: { task: Task };
  task_updated?: {
    framework_id: { value: string };
    status: { task_id: { value: string }; state: string };
    state: string;
  };
  framework_added?: { framework: { framework_info: { id?: { value: string }; name: string } } };
  agent_added?: { agent: { agent_info: { hostname: string } } };
}

/** One operator-API call through the library: the parsed response. */
function call<T>(url: string, body: object): Promise<T> {
  return new Promise((resolve, reject) => {
    mesosClient.request(body, url).subscribe(
      (text) => {
        try {
          resolve(JSON.parse(text) as T);
        } catch (err) {
          reject(new Error(`${JSON.stringify(body)}: not JSON: ${text.slice(0, 500)} (${String(err)})`));
        }
      },
      (err) => reject(new Error(`${JSON.stringify(body)} failed: ${JSON.stringify(err)}`)),
    );
  });
}

describe("@dcos/mesos-client (npm) against kube-offers' operator API", () => {
  it("reads the state and follows the event stream while tasks start and finish", async () => {
    tb = await startTestbed(pool, "mesosop", (namespace) => ({
      allowUnauthenticated: true,
      namespaces: { "e2e-principal": namespace },
      heartbeatIntervalSeconds: 0.5,
      updateRetrySeconds: 2,
      leaseSeconds: 3,
    }));
    const operatorApi = `${tb.api.url}/api/v1`;
    const nodes = pool.nodes.map((n) => n.name).sort();

    const state = await call<{ type: string; get_state: GetState }>(operatorApi, { type: "GET_STATE" });
    expect(state.type).toBe("GET_STATE");
    expect((state.get_state.get_agents?.agents ?? []).map((a) => a.agent_info.hostname).sort()).toEqual(
      nodes,
    );

    const events: Event[] = [];
    let streamError: unknown;
    let streamEnded = false;
    const subscription = mesosClient.stream({ type: "SUBSCRIBE" }, operatorApi).subscribe(
      (record) => events.push(JSON.parse(record) as Event),
      (err) => {
        streamError = err;
      },
      () => {
        streamEnded = true;
      },
    );
    const streamOk = () => {
      if (streamError) throw new Error(`the SUBSCRIBE stream failed: ${JSON.stringify(streamError)}`);
      if (streamEnded) throw new Error("the SUBSCRIBE stream ended");
    };
    try {
      const subscribed = await waitFor("SUBSCRIBED on the operator event stream", async () => {
        streamOk();
        return events.find((e) => e.type === "SUBSCRIBED");
      });
      expect(events[0]?.type).toBe("SUBSCRIBED");
      expect(
        (subscribed.subscribed?.get_state?.get_agents?.agents ?? []).map((a) => a.agent_info.hostname).sort(),
      ).toEqual(nodes);

      // A framework runs two short tasks to the end through the scheduler API.
      const framework = await startMesoshttpFramework(tb.processes, tb.api.url, {
        tasks: 2,
        principal: "e2e-principal",
        runSeconds: 1,
        timeoutSeconds: 90,
      });
      const exited = await tb.processes.waitExit(framework, 120_000, "the mesoshttp framework");
      const summary = mesoshttpSummary(exited.stdout);
      if (exited.code !== 0 || !summary?.ok)
        throw new Error(
          `the mesoshttp framework failed (exit ${exited.code}):\n${exited.stderr.slice(-4000)}`,
        );
      const taskIds = [...summary.finished].sort();
      expect(taskIds).toEqual(["mesoshttp-task-0", "mesoshttp-task-1"]);

      // The stream told the story: the framework, each task added, then running and finished.
      const told = await waitFor("TASK_FINISHED of both tasks on the event stream", async () => {
        streamOk();
        const finished = events.filter(
          (e) => e.type === "TASK_UPDATED" && e.task_updated?.state === "TASK_FINISHED",
        );
        return finished.length >= 2 ? events.slice() : undefined;
      });
      const added = told.find(
        (e) =>
          e.type === "FRAMEWORK_ADDED" &&
          e.framework_added?.framework.framework_info.name === MESOSHTTP_FRAMEWORK_NAME,
      );
      expect(added?.framework_added?.framework.framework_info.id?.value).toBe(summary.framework_id);
      for (const id of taskIds) {
        const story = told.filter(
          (e) =>
            (e.type === "TASK_ADDED" && e.task_added?.task.task_id.value === id) ||
            (e.type === "TASK_UPDATED" && e.task_updated?.status.task_id.value === id),
        );
        expect(story[0]?.type, `the first event of ${id}`).toBe("TASK_ADDED");
        expect(story[0]?.task_added?.task.framework_id.value).toBe(summary.framework_id);
        const states = story.flatMap((e) => (e.task_updated ? [e.task_updated.state] : []));
        expect(states).toContain("TASK_RUNNING");
        expect(states[states.length - 1]).toBe("TASK_FINISHED");
        expect(states.indexOf("TASK_RUNNING")).toBeLessThan(states.indexOf("TASK_FINISHED"));
      }
      expect(told.some((e) => e.type === "HEARTBEAT")).toBe(true);

      // The Pods ran and ended as the events say.
      const pods = tb.pods.pods();
      expect(pods).toHaveLength(2);
      for (const p of pods) expect(p.phases).toEqual(expect.arrayContaining(["Running", "Succeeded"]));

      // And the state read afterwards has both tasks finished.
      const after = await call<{ type: string; get_state: GetState }>(operatorApi, { type: "GET_STATE" });
      const all = [
        ...(after.get_state.get_tasks?.tasks ?? []),
        ...(after.get_state.get_tasks?.completed_tasks ?? []),
      ];
      expect(
        all
          .filter((t) => t.framework_id.value === summary.framework_id)
          .map((t) => [t.task_id.value, t.state])
          .sort(),
      ).toEqual([
        ["mesoshttp-task-0", "TASK_FINISHED"],
        ["mesoshttp-task-1", "TASK_FINISHED"],
      ]);
    } finally {
      subscription.unsubscribe();
    }
  }, 300_000);
});
