import { describe, expect, it } from "vitest";
import { SIM_EXIT_CODE, SIM_RUN_SECONDS, SIM_START_SECONDS } from "../crds/contract.ts";
import { EXIT_CODE, RUN_SECONDS, START_SECONDS } from "../local/node-simulator.ts";
import { matchesConstraints as operatorMatches } from "../resources/constraints.ts";
import { InvalidLaunchError } from "./errors.ts";
import { matchesConstraints } from "./index.ts";
import { checkTasksFit, fits, formatResources, OfferBin, packAll, sumResources } from "./resources.ts";
import { commandTask } from "./task.ts";

describe("offer matching", () => {
  it("compares quantities exactly, across units", () => {
    expect(fits({ cpu: "1", memory: "1Gi" }, { cpu: "1000m", memory: "1024Mi" })).toBe(true);
    expect(fits({ cpu: "1", memory: "1Gi" }, { cpu: "1001m" })).toBe(false);
    expect(fits({ cpu: "0.3" }, { cpu: "100m" })).toBe(true);
    expect(fits({ cpu: "2" }, { "nvidia.com/gpu": 1 })).toBe(false);
    expect(fits({ ports: [{ begin: 31000, end: 31010 }] }, { ports: [{ begin: 31005, end: 31006 }] })).toBe(
      true,
    );
    expect(fits({ ports: [{ begin: 31000, end: 31010 }] }, { ports: [{ begin: 31010, end: 31011 }] })).toBe(
      false,
    );
  });

  it("packs tasks into one offer, picking ports, until it is full", () => {
    const bin = new OfferBin("o1", { cpu: "2", memory: "2Gi", ports: [{ begin: 31000, end: 31002 }] });
    expect(bin.place({ cpu: "500m", memory: "512Mi", ports: 2 })).toEqual({
      cpu: "500m",
      memory: "512Mi",
      ports: [{ begin: 31000, end: 31001 }],
    });
    expect(bin.place({ cpu: "500m", memory: "512Mi", ports: 2 })).toBeUndefined(); // one port left
    expect(bin.place({ cpu: "1", memory: "1Gi", ports: 1 })).toEqual({
      cpu: "1",
      memory: "1Gi",
      ports: [{ begin: 31002, end: 31002 }],
    });
    expect(bin.canPlace({ cpu: "600m" })).toBe(false);
    expect(bin.remaining).toEqual({ cpu: "500m", memory: "512Mi" });
    expect(bin.used).toEqual({ cpu: "1500m", memory: "1536Mi", ports: [{ begin: 31000, end: 31002 }] });
  });

  it("places a whole group across offers, or nothing", () => {
    const offers = [
      { name: "a", resources: { cpu: "2", memory: "4Gi" } },
      { name: "b", resources: { cpu: "3", memory: "4Gi" } },
    ];
    const items = [1, 2, 3, 4].map((i) => ({ item: `t${i}`, request: { cpu: "1200m", memory: "1Gi" } }));
    // 2 cpu holds one task of 1.2, 3 cpu holds two: three fit, four do not.
    expect(packAll(offers, items)).toBeUndefined();
    const placed = packAll(offers, items.slice(0, 3));
    expect(placed).toBeDefined();
    const count = [...(placed?.values() ?? [])].reduce((n, l) => n + l.length, 0);
    expect(count).toBe(3);
    expect(placed?.get("b")?.length).toBe(2);
  });

  it("checks an answer as the operator will, naming the task and resource", () => {
    const offered = { cpu: "2", memory: "1Gi", ports: [{ begin: 31000, end: 31001 }] };
    expect(() =>
      checkTasksFit("o1", offered, [
        { id: "a", resources: { cpu: "1", memory: "512Mi" } },
        { id: "b", resources: { cpu: "1", memory: "512Mi" } },
      ]),
    ).not.toThrow();
    expect(() =>
      checkTasksFit("o1", offered, [
        { id: "a", resources: { cpu: "1500m" } },
        { id: "b", resources: { cpu: "1" } },
      ]),
    ).toThrow(/task b asks cpu 1, more than the 500m left of offer o1/);
    expect(() => checkTasksFit("o1", offered, [{ id: "g", resources: { "nvidia.com/gpu": 1 } }])).toThrow(
      /task g asks for nvidia.com\/gpu, which offer o1 does not hold/,
    );
    expect(() =>
      checkTasksFit("o1", offered, [{ id: "p", resources: { ports: [{ begin: 30000, end: 30000 }] } }]),
    ).toThrow(/outside offer o1/);
    expect(() =>
      checkTasksFit("o1", offered, [
        { id: "p", resources: { ports: [{ begin: 31000, end: 31000 }] } },
        { id: "q", resources: { ports: [{ begin: 31000, end: 31000 }] } },
      ]),
    ).toThrow(/another task of this answer already uses/);
    expect(() => checkTasksFit("o1", offered, [{ id: "x", resources: { cpu: "lots" } }])).toThrow(
      InvalidLaunchError,
    );
  });

  it("formats and sums", () => {
    expect(formatResources({ memory: "1Gi", cpu: "500m", ports: [{ begin: 1, end: 3 }] })).toBe(
      "cpu 500m, memory 1Gi, ports 1-3",
    );
    expect(sumResources([{ cpu: "500m" }, { cpu: "1.5", memory: "1Mi" }])).toEqual({
      cpu: "2",
      memory: "1Mi",
    });
  });
});

describe("attribute constraints", () => {
  it("are matched by the allocator's own definition (src/resources)", () => {
    expect(matchesConstraints).toBe(operatorMatches);
  });
});

describe("commandTask", () => {
  it("uses the annotations the node simulator obeys", () => {
    expect([SIM_START_SECONDS, SIM_RUN_SECONDS, SIM_EXIT_CODE]).toEqual([
      START_SECONDS,
      RUN_SECONDS,
      EXIT_CODE,
    ]);
  });

  it("builds a one-container task", () => {
    const t = commandTask({
      id: "t1",
      resources: { cpu: "1" },
      shell: "echo hi",
      labels: { app: "x" },
      simulate: { runSeconds: 2, exitCode: 1 },
    });
    expect(t).toEqual({
      id: "t1",
      resources: { cpu: "1" },
      template: {
        metadata: {
          labels: { app: "x" },
          annotations: { [SIM_RUN_SECONDS]: "2", [SIM_EXIT_CODE]: "1" },
        },
        spec: { containers: [{ name: "main", image: "busybox:1.35", command: ["sh", "-c", "echo hi"] }] },
      },
    });
  });
});
