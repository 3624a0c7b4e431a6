import { describe, expect, it } from "vitest";
import { render } from "./summary.ts";

describe("npm start summary", () => {
  it("renders agents, frameworks, offers and tasks by state", () => {
    const lines = render(
      {
        agents: {
          total: 5,
          ready: 5,
          capacity: { cpu: "40", memory: "80Gi" },
          used: { cpu: "9500m", memory: "9Gi" },
        },
        frameworks: [
          {
            name: "batch-1",
            phase: "Active",
            share: 0.1125,
            tasks: { TASK_RUNNING: 9, TASK_FINISHED: 12, TASK_FAILED: 2 },
            note: "12/24 done, 2 failed attempt(s) retried",
          },
          { name: "web", phase: "Active", share: 0.125, tasks: { TASK_RUNNING: 5 }, note: "5/5 instances" },
        ],
        offers: { Offered: 2, Accepted: 14, Declined: 6 },
        tasks: { TASK_RUNNING: 14, TASK_FINISHED: 12, TASK_FAILED: 2, TASK_UNREACHABLE: 1 },
      },
      { uptimeS: 75 },
    );
    expect(lines).toEqual([
      "kube-offers demo · up 1:15 · Ctrl-C stops everything",
      "",
      "AGENTS      5/5 ready · in use: cpu 9.5/40 (24%), memory 9Gi/80Gi (11%)",
      "FRAMEWORK   PHASE        RUNNING  FINISHED  FAILED  SHARE  NOTE",
      "  batch-1   Active       9        12        2       0.11   12/24 done, 2 failed attempt(s) retried",
      "  web       Active       5        0         0       0.13   5/5 instances",
      "OFFERS      2 outstanding · recent: 14 accepted, 6 declined, 0 rescinded, 0 expired, 0 invalid",
      "TASKS       staging 0 · starting 0 · running 14 · finished 12 · failed 2 · killed 0 · lost 0 · unreachable 1",
    ]);
  });
});
