"""A small Mesos framework written against the mesoshttp library (PyPI, unmodified).

Usage: mesoshttp_scheduler.py MASTER_URL TASKS PRINCIPAL [RUN_SECONDS]

It subscribes, takes offers, launches TASKS command tasks (two per offer at most) that run
RUN_SECONDS on kube-offers' simulated nodes, waits for every task to finish (the library
acknowledges each update), then disconnects without tearing down. Prints a JSON summary on
stdout; exits 0 when every task reached TASK_FINISHED, 1 otherwise.
"""

import json
import logging
import sys
import threading
import time

from mesoshttp.client import MesosClient

TERMINAL_BAD = {"TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_KILLED", "TASK_DROPPED", "TASK_GONE"}


def main():
    master, n_tasks, principal = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    run_seconds = sys.argv[4] if len(sys.argv) > 4 else "1"
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")

    client = MesosClient(mesos_urls=[master], frameworkName="mesoshttp-e2e", frameworkUser="root", max_reconnect=1)
    client.set_credentials(principal, None)
    client.set_failover_timeout(60)
    client.add_capability("MULTI_ROLE")

    lock = threading.Lock()
    done = threading.Event()
    summary = {"framework_id": None, "offers": 0, "declined": 0, "launched": [], "updates": [], "finished": [], "failed": []}

    def on_subscribed(driver):
        summary["framework_id"] = client.frameworkId

    def on_offers(offers):
        for offer in offers:
            o = offer.get_offer()
            with lock:
                summary["offers"] += 1
                todo = n_tasks - len(summary["launched"])
                ids = ["mesoshttp-task-%d" % (len(summary["launched"]) + i) for i in range(min(todo, 2))]
                summary["launched"].extend(ids)
            if not ids:
                summary["declined"] += 1
                offer.decline({"filters": {"refuse_seconds": 3600}})
                continue
            tasks = []
            for tid in ids:
                tasks.append({
                    "name": tid,
                    "task_id": {"value": tid},
                    "agent_id": o["agent_id"],
                    "resources": [
                        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                        {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
                    ],
                    "command": {"value": "echo hello from %s" % tid},
                    "labels": {"labels": [{"key": "sim.kubeoffers.io/run-seconds", "value": run_seconds}]},
                })
            offer.accept(tasks)

    def on_update(update):
        status = update["status"]
        tid, state = status["task_id"]["value"], status["state"]
        with lock:
            summary["updates"].append([tid, state, "uuid" in status])
            if state == "TASK_FINISHED" and tid not in summary["finished"]:
                summary["finished"].append(tid)
            if state in TERMINAL_BAD:
                summary["failed"].append([tid, state, status.get("message", "")])
            if len(summary["finished"]) >= n_tasks or summary["failed"]:
                done.set()

    client.on(MesosClient.SUBSCRIBED, on_subscribed)
    client.on(MesosClient.OFFERS, on_offers)
    client.on(MesosClient.UPDATE, on_update)

    thread = threading.Thread(target=client.register, daemon=True)
    thread.start()
    ok = done.wait(timeout=float(sys.argv[5]) if len(sys.argv) > 5 else 60.0)
    client.disconnect_framework()
    thread.join(timeout=5)
    summary["ok"] = bool(ok and not summary["failed"] and len(summary["finished"]) >= n_tasks)
    print(json.dumps(summary))
    sys.stdout.flush()
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
