// The agent reports as soon as its Node informer is synced: a report skipped while the Node list
// was failing is made when the list succeeds, not at some later periodic pass. It never reads
// Pods: those on its node that are not tasks are the operator's to count.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackServer, loopbackServer } from "../kube/loopback-server.ts";
import { NodeAgent } from "./agent.ts";

let server: LoopbackServer | undefined;
let nodeLists = 0;
let podRequests = 0;
const statusWrites: { status?: { available?: boolean } }[] = [];

const node = {
  apiVersion: "v1",
  kind: "Node",
  metadata: { name: "n1", uid: "u1", resourceVersion: "1" },
  status: { allocatable: { cpu: "4", memory: "8Gi" }, conditions: [{ type: "Ready", status: "True" }] },
};

beforeAll(async () => {
  server = await loopbackServer((req, res) => {
    const [path = "", query = ""] = (req.url ?? "").split("?");
    let body = "";
    req.on("data", (d: Buffer) => {
      body += d.toString();
    });
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      if (query.includes("watch=true")) {
        res.writeHead(200);
        res.flushHeaders();
        return; // held open, quiet
      }
      if (path === "/api/v1/nodes") {
        // The first list fails: the informer is not synced when the agent starts.
        if (nodeLists++ === 0) {
          res.writeHead(500);
          res.end(JSON.stringify({ kind: "Status", code: 500, message: "try again" }));
        } else
          res.end(JSON.stringify({ kind: "NodeList", metadata: { resourceVersion: "1" }, items: [node] }));
      } else if (path.includes("/pods")) {
        podRequests++;
        res.writeHead(403);
        res.end(JSON.stringify({ kind: "Status", code: 403, message: "agents do not read Pods" }));
      } else if (path.endsWith("/status")) {
        statusWrites.push(JSON.parse(body) as (typeof statusWrites)[number]);
        res.end(body);
      } else {
        res.writeHead(req.method === "POST" ? 201 : 200);
        res.end(body || "{}");
      }
    });
  });
});
afterAll(async () => server?.close());

describe("NodeAgent reporting", () => {
  it("reports once the Node informer syncs after a failed list, and never reads Pods", async () => {
    if (!server) throw new Error("no server");
    const agent = new NodeAgent(server.kc, { nodeName: "n1" });
    try {
      await agent.start();
      const deadline = Date.now() + 4000;
      while (statusWrites.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(nodeLists).toBeGreaterThanOrEqual(2);
      expect(podRequests).toBe(0);
      expect(statusWrites.map((w) => w.status?.available)).toEqual([true]);
    } finally {
      await agent.stop();
    }
  });
});
