// The scheduler's liveness Lease against a loopback API server: a renewal whose write conflicts
// with a change of its own Lease is a failed attempt (retried), not the Lease lost; a Lease that
// another instance holds is; while it holds its Lease a renewal is one write, no read, and a
// renewal whose version was overtaken (a standby took over) reads who holds it now.
import { afterEach, describe, expect, it } from "vitest";
import { type LoopbackServer, loopbackServer } from "../kube/loopback-server.ts";
import { SchedulerLease } from "./lease.ts";

const lease = (holder: string, renewedAt: number) => ({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: { name: "l", namespace: "ns", resourceVersion: "7" },
  spec: { holderIdentity: holder, leaseDurationSeconds: 10, renewTime: new Date(renewedAt).toISOString() },
});

describe("SchedulerLease.tryAcquireOrRenew", () => {
  let srv: LoopbackServer | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  it("a conflicting write on its own Lease is a failed attempt, retried; then it renews", async () => {
    let patches = 0;
    srv = await loopbackServer((req, res) => {
      res.setHeader("content-type", "application/json");
      if (req.method === "GET") return res.end(JSON.stringify(lease("me", Date.now())));
      patches++;
      if (patches === 1) {
        res.statusCode = 409;
        return res.end(JSON.stringify({ kind: "Status", code: 409, reason: "Conflict", message: "changed" }));
      }
      res.end(JSON.stringify(lease("me", Date.now())));
    });
    const l = new SchedulerLease(srv.kc, { namespace: "ns", name: "l", identity: "me", durationSeconds: 10 });
    const first = await l.tryAcquireOrRenew();
    expect(first.held).toBe(false);
    expect("error" in first && !("holder" in first)).toBe(true);
    expect(await l.tryAcquireOrRenew()).toEqual({ held: true });
  });

  it("renews a Lease it holds with one write on the version it wrote; overtaken, it reads who holds it", async () => {
    const seen: string[] = [];
    let version = 7;
    let holder = "me";
    srv = await loopbackServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => {
        body += d.toString();
      });
      req.on("end", () => {
        res.setHeader("content-type", "application/json");
        const rv = (JSON.parse(body || "{}") as { metadata?: { resourceVersion?: string } }).metadata
          ?.resourceVersion;
        seen.push(`${req.method}${rv ? ` rv=${rv}` : ""}`);
        const now = {
          ...lease(holder, Date.now()),
          metadata: { name: "l", namespace: "ns", resourceVersion: String(version) },
        };
        if (req.method === "GET") return res.end(JSON.stringify(now));
        if (rv !== String(version)) {
          res.statusCode = 409;
          return res.end(
            JSON.stringify({ kind: "Status", code: 409, reason: "Conflict", message: "changed" }),
          );
        }
        version++;
        res.end(JSON.stringify({ ...now, metadata: { ...now.metadata, resourceVersion: String(version) } }));
      });
    });
    const l = new SchedulerLease(srv.kc, { namespace: "ns", name: "l", identity: "me", durationSeconds: 10 });
    expect(await l.tryAcquireOrRenew()).toEqual({ held: true });
    expect(await l.tryAcquireOrRenew()).toEqual({ held: true });
    expect(await l.tryAcquireOrRenew()).toEqual({ held: true });
    expect(seen).toEqual(["GET", "PATCH rv=7", "PATCH rv=8", "PATCH rv=9"]);
    // A standby takes over (a write of its own): the next renewal conflicts, reads, and yields.
    holder = "standby";
    version = 20;
    seen.length = 0;
    expect(await l.tryAcquireOrRenew()).toMatchObject({ held: false, holder: "standby" });
    expect(seen).toEqual(["PATCH rv=10", "GET"]);
  });

  it("a Lease another instance holds and renewed is not taken", async () => {
    srv = await loopbackServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(lease("other", Date.now())));
    });
    const l = new SchedulerLease(srv.kc, { namespace: "ns", name: "l", identity: "me", durationSeconds: 10 });
    const st = await l.tryAcquireOrRenew();
    expect(st).toMatchObject({ held: false, holder: "other" });
  });
});
