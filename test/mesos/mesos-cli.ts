// The Apache Mesos CLI (`mesos-cli`, PyPI avmesos-cli, unmodified), run as a user would: it reads
// the master's address from ~/.mesos/config.toml, so each CLI gets a HOME of its own (a temporary
// directory holding that file) and the real ~ is never read or written.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Exited, Processes } from "./processes.ts";
import { mesosVenv, venvBinDir } from "./venv.ts";

export interface MesosCli {
  /** Runs `mesos-cli <args>` (bounded); resolves what it printed and its exit code. */
  run(args: string[]): Promise<Exited>;
  /** Removes its HOME. */
  close(): void;
}

/** A TOML basic string: the values here are addresses and principals, quoted and escaped. */
function tomlString(s: string): string {
  return JSON.stringify(s);
}

export async function mesosCli(
  processes: Processes,
  master: URL,
  credentials?: { principal: string; secret: string },
): Promise<MesosCli> {
  const bin = venvBinDir(await mesosVenv());
  const home = mkdtempSync(join(tmpdir(), "kube-offers-mesos-cli-"));
  mkdirSync(join(home, ".mesos"));
  const lines = ["[master]", `address = ${tomlString(master.host)}`];
  if (credentials)
    lines.push(
      `principal = ${tomlString(credentials.principal)}`,
      `secret = ${tomlString(credentials.secret)}`,
    );
  writeFileSync(join(home, ".mesos", "config.toml"), `${lines.join("\n")}\n`);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, PATH: `${bin}:${process.env.PATH ?? ""}` };
  // MESOS_CLI_CONFIG would point it elsewhere than HOME.
  delete env.MESOS_CLI_CONFIG;
  return {
    run: (args) => processes.run(join(bin, "mesos-cli"), args, { env, cwd: home, timeoutMs: 60_000 }),
    close: () => rmSync(home, { recursive: true, force: true }),
  };
}

/**
 * The rows of a table the CLI printed (avmesos.cli.util.Table: each column padded to its widest
 * entry plus two spaces; headers have single spaces), as header → value, empty cells included.
 */
export function parseTable(out: string): Record<string, string>[] {
  const lines = out.split("\n").filter((l) => l.trim() !== "");
  const header = lines[0] ?? "";
  const columns = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ name: m[0], start: m.index }));
  return lines
    .slice(1)
    .map((line) =>
      Object.fromEntries(
        columns.map((c, i) => [c.name, line.slice(c.start, columns[i + 1]?.start ?? line.length).trim()]),
      ),
    );
}
