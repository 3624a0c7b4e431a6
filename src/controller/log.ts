import pino from "pino";

export type Logger = pino.Logger;

/** JSON logs; fields framework, offer, agent and task are used consistently across the operator. */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({ name, level });
}
