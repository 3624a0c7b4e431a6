// A framework for the tests of other clients to look at: test/mesos/mesoshttp_scheduler.py, on
// the unmodified mesoshttp library, launching command tasks through kube-offers' scheduler API.
import { join } from "node:path";
import type { Processes, Started } from "./processes.ts";
import { mesosVenv } from "./venv.ts";

export const MESOSHTTP_FRAMEWORK_NAME = "mesoshttp-e2e";

export interface MesoshttpSummary {
  ok: boolean;
  framework_id: string;
  offers: number;
  launched: string[];
  updates: [string, string, boolean][];
  finished: string[];
  failed: unknown[];
}

export interface MesoshttpRun {
  tasks: number;
  principal: string;
  /** How long each task runs on the simulated node. */
  runSeconds: number;
  /** How long it waits for its tasks to finish before it gives up. */
  timeoutSeconds: number;
}

export async function startMesoshttpFramework(
  processes: Processes,
  master: string,
  run: MesoshttpRun,
): Promise<Started> {
  const python = await mesosVenv();
  const script = join(import.meta.dirname, "mesoshttp_scheduler.py");
  return processes.start(python, [
    script,
    master,
    String(run.tasks),
    run.principal,
    String(run.runSeconds),
    String(run.timeoutSeconds),
  ]);
}

/** The JSON summary the script prints last, if it got that far. */
export function mesoshttpSummary(stdout: string): MesoshttpSummary | undefined {
  try {
    return JSON.parse(stdout.trim().split("\n").pop() ?? "") as MesoshttpSummary;
  } catch {
    return undefined;
  }
}
