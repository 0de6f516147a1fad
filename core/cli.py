"""The command line. Stable: automation and checks call it (DESIGN.md, "Command line").

Each command parses its arguments here and hands them to the module that owns the work; input
problems print one readable line on stderr and exit 2; a store that cannot be used now (its
catalog server unreachable, its disk full, an old workspace that cannot be converted) exits 3
with a message that says what to do (:func:`main`); no error reaches the user as a traceback.
Any number of these commands may run at once on one workspace, beside the console and the
gateway.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import InputError, describe


def _print_json(obj) -> None:
    json.dump(obj, sys.stdout, default=str)
    sys.stdout.write("\n")


def _models(text: str | None) -> list[str] | None:
    return [m.strip() for m in text.split(",") if m.strip()] if text else None


def cmd_summary(args) -> int:
    from core.evaluation.loading import load_csv
    from core.evaluation.metrics import summary

    result = summary(load_csv(args.evalset))
    if args.json:
        _print_json(result)
    else:
        print(f"{result['items']} items")
        for row in result["models"]:
            cost = "unknown" if row["cost_per_item"] is None else f"${row['cost_per_item']:.6f}"
            quality = "unscored" if row["quality"] is None else f"{row['quality']:.3f}"
            print(f"  {row['model']:<40} quality {quality}  cost/item {cost}"
                  f"  scored {row['scored']}")
    return 0


def cmd_frontier(args) -> int:
    from core.evaluation.loading import load_csv
    from core.routing.frontier import frontier_summary

    result = frontier_summary(load_csv(args.evalset), _models(args.models))
    if args.json:
        _print_json(result)
    else:
        print(json.dumps(result, indent=2, default=str))
    return 0


def cmd_fit(args) -> int:
    from core.evaluation.loading import load_csv
    from core.routing.optimize.policy_file import fit_estimate_line, fit_goal, fit_unmet_line

    fitted = fit_goal(load_csv(args.train), args.goal)
    Path(args.out).write_text(json.dumps(fitted, indent=2, default=str))
    print(fit_estimate_line(fitted), file=sys.stderr)
    if not fitted["goal_met_on_held_out"]:
        print(f"error: {fit_unmet_line(fitted)}; wrote the best plan to {args.out}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def cmd_score(args) -> int:
    from core.evaluation.loading import load_csv
    from core.routing.optimize.policy_file import score_policy_file

    result = score_policy_file(args.policy, load_csv(args.test))
    if args.json:
        _print_json(result)
    else:
        print(json.dumps(result, indent=2, default=str))
    return 0


def cmd_run(args) -> int:
    from core.live.command import run_cli

    return run_cli(args.inputs, _models(args.models) or [], args.out, concurrency=args.concurrency,
                   run_id=args.run_id, cache=not args.no_cache)


def cmd_check(args) -> int:
    from core.evaluation.loading import load_csv
    from core.routing.gate import Thresholds, run_gate
    from core.routing.gate_files import read_baseline, resolve_policy, write_baseline, write_junit

    thresholds = Thresholds(args.min_quality, args.max_cost, args.max_drop, args.alpha).validate()
    if args.min_quality is None and args.max_cost is None and not args.baseline \
            and not args.write_baseline:
        raise InputError("check needs something to check: --min-quality, --max-cost, --baseline "
                         "(or --write-baseline to record a first baseline)")
    baseline = read_baseline(args.baseline) if args.baseline else None
    evalset = load_csv(args.evalset)
    policy, label = resolve_policy(args.policy, evalset)
    result = run_gate(evalset, policy, label, thresholds, baseline)
    if args.junit:
        write_junit(result, args.junit)
    if args.write_baseline and result.passed:  # a failing run never becomes the baseline
        write_baseline(result, args.write_baseline)
    if args.json:
        _print_json(result.to_dict())
    print(result.line(), file=sys.stderr if args.json or not result.passed else sys.stdout)
    if not result.passed and args.alert:
        from core.gateway.gate_alert import alert_gate_failure
        from core.workspace import open_workspace

        note = alert_gate_failure(open_workspace(), result.to_dict(), result.line())
        if note:
            print(f"note: {note}", file=sys.stderr)
    return 0 if result.passed else 1


def cmd_rescore(args) -> int:
    from core.live.scoring import rescore_cli

    return rescore_cli(args.evalset, args.scorer, args.out, args.task, rubric_path=args.rubric,
                       against=args.against, recheck=args.recheck, concurrency=args.concurrency,
                       spend_cap=args.spend_cap, as_json=args.json)


def cmd_ledger(args) -> int:
    from core.spend.imports.importer import import_file
    from core.workspace import open_workspace

    report = import_file(open_workspace(), args.file, args.format)
    print(report.summary_line())
    for note in report.notes:  # what was detected, and how to price rows of unknown cost
        print(f"note: {note}", file=sys.stderr)
    return 0


def cmd_feedback(args) -> int:
    from core.experiments.outcomes import import_outcomes
    from core.workspace import open_workspace

    done = import_outcomes(open_workspace(), args.file)
    per = ", ".join(f"{name}: {n:,}" for name, n in sorted(done["experiments"].items()))
    print(f"imported {done['rows']:,} outcome(s)" + (f" ({per})" if per else ""))
    return 0


def cmd_report(args) -> int:
    from core.spend.reports import write_report
    from core.workspace import open_workspace

    write_report(open_workspace(), args.date_from, args.date_to, args.format, args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def cmd_store(args) -> int:
    from core.workspace import open_workspace

    ws = open_workspace()
    if args.store_command == "health":
        from core.spend.writer import store_health

        health = store_health(ws)
        if args.json:
            _print_json(health)
        else:
            spool = health["spool"]
            print(f"{health['store']}: {'reachable' if health['reachable'] else 'UNREACHABLE'}; "
                  f"spool {spool['rows']} rows in {spool['segments']} segments ({spool['dir']})")
            if health["error"]:
                print(f"  {health['error']}")
        return 0 if health["reachable"] else 3
    from core.spend import rollup, writer  # noqa: F401  (their maintenance steps)
    from core.workspace.maintenance import compact

    done = compact(ws)
    if args.json:
        _print_json(done)
    else:
        print(", ".join(f"{k} {v}" for k, v in done.items()))
    return 0


def cmd_serve(args) -> int:
    from core.gateway.serve import ServeSettings, serve

    return serve(ServeSettings(port=args.port, host=args.host, workers=args.workers,
                               policies=list(args.policy or []), timeout_s=args.timeout,
                               max_retries=args.max_retries, drain_s=args.drain))


def build_parser() -> argparse.ArgumentParser:
    prog = "tradeoff" if Path(sys.argv[0]).name == "tradeoff" else "python -m core"
    p = argparse.ArgumentParser(prog=prog, description="Tradeoff: LLM routing console")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("summary", help="per-model quality and cost of an eval set")
    s.add_argument("evalset")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_summary)

    s = sub.add_parser("frontier", help="quality-cost frontier of cascades over the models")
    s.add_argument("evalset")
    s.add_argument("--models", help="comma-separated, cheapest first")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_frontier)

    s = sub.add_parser("fit", help="fit a routing policy for a goal")
    s.add_argument("train")
    s.add_argument("--goal", required=True,
                   help="match:MODEL (within one point; match:MODEL~0 strict) | quality>=Q | "
                        "cost<=USD_PER_ITEM | share:MODEL<=S")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_fit)

    s = sub.add_parser("score", help="score a fitted policy on another eval set")
    s.add_argument("policy")
    s.add_argument("test")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_score)

    s = sub.add_parser("run", help="run an inputs-only eval set live against models")
    s.add_argument("inputs")
    s.add_argument("--models", required=True, help="PROVIDER:MODEL,...")
    s.add_argument("--out", required=True)
    s.add_argument("--concurrency", type=int, default=8)
    s.add_argument("--run-id", help="a new id starts a new run (e.g. weekly-$(date +%%G-W%%V)); "
                                    "default: from the inputs and models, so a rerun resumes")
    s.add_argument("--no-cache", action="store_true",
                   help="call every model afresh instead of reusing cached answers")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("check", help="regression gate: a policy on an eval set against thresholds "
                                     "and a baseline; exit 1 when it fails")
    s.add_argument("evalset")
    s.add_argument("--policy", required=True,
                   help="a policy JSON file (fit writes one) or one model column of the eval set")
    s.add_argument("--min-quality", type=float, help="quality floor (mean score, 0..1)")
    s.add_argument("--max-cost", type=float, help="cost ceiling (USD per item)")
    s.add_argument("--baseline", help="PREVIOUS.json: what check --write-baseline wrote on the "
                                      "same items; fails on a significant paired quality drop")
    s.add_argument("--max-drop", type=float, default=0.0,
                   help="quality the policy may lose against the baseline (default 0)")
    s.add_argument("--alpha", type=float, default=0.05,
                   help="level of the one-sided paired test (default 0.05)")
    s.add_argument("--write-baseline", metavar="FILE",
                   help="write this run's per-item results as the next baseline (when it passes)")
    s.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    s.add_argument("--alert", action="store_true",
                   help="when it fails, send a gate.failed event to the workspace's webhooks")
    s.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("rescore", help="score an eval set's outputs with a scorer or an LLM judge")
    s.add_argument("evalset")
    s.add_argument("--scorer", required=True,
                   help="exact | numeric[:TOL] | regex:PATTERN | choice[:LETTERS] | json | "
                        "json-schema:FILE | similarity[:THRESHOLD] | chrf[:THRESHOLD] | "
                        "judge:PROVIDER:MODEL")
    s.add_argument("--task", help="score only this task's items (others keep the file's scores)")
    s.add_argument("--out", required=True)
    s.add_argument("--rubric", help="judge: a text file with the rubric")
    s.add_argument("--against", help="judge: compare each answer with this model's (pairwise)")
    s.add_argument("--recheck", type=int, default=20,
                   help="judge: answers judged a second time to measure self-agreement")
    s.add_argument("--concurrency", type=int, default=8)
    s.add_argument("--spend-cap", type=float, help="judge: stop before spending more (USD)")
    s.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    s.set_defaults(func=cmd_rescore)

    s = sub.add_parser("ledger", help="the spend ledger")
    lsub = s.add_subparsers(dest="ledger_command", required=True)
    li = lsub.add_parser("import", help="import a usage file into the ledger")
    li.add_argument("file")
    li.add_argument("--format", default="auto", choices=["auto", "generic", "openai", "anthropic", "litellm"],
                    help="auto (default): detected from the file's columns")
    li.set_defaults(func=cmd_ledger)

    s = sub.add_parser("feedback", help="production feedback for live experiments")
    fsub = s.add_subparsers(dest="feedback_command", required=True)
    fi = fsub.add_parser("import", help="import outcomes (request_id + score/thumbs/label) from a CSV")
    fi.add_argument("file")
    fi.set_defaults(func=cmd_feedback)

    s = sub.add_parser("report", help="export a cost report")
    s.add_argument("--from", dest="date_from", required=True)
    s.add_argument("--to", dest="date_to", required=True)
    s.add_argument("--format", required=True, choices=["csv", "xlsx", "html", "pdf"])
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("store", help="the workspace's store: health and maintenance")
    ssub = s.add_subparsers(dest="store_command", required=True)
    for name, text in (("health", "can the store be reached; what waits in this machine's spool "
                                  "for it; exit 3 when unreachable"),
                       ("compact", "flush inlined rows, merge small files, expire old snapshots")):
        sc = ssub.add_parser(name, help=text)
        sc.add_argument("--json", action="store_true")
        sc.set_defaults(func=cmd_store)

    s = sub.add_parser("serve", help="serve deployed policies as an OpenAI-compatible gateway")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--workers", type=int, default=1, help="worker processes sharing the port")
    s.add_argument("--policy", action="extend", nargs="+", metavar="POLICY.json",
                   help="deploy a policy file under its file's stem (tradeoff/STEM)")
    s.add_argument("--timeout", type=float, default=60.0, help="seconds per provider request")
    s.add_argument("--max-retries", type=int, default=2, help="retries of a failed provider request")
    s.add_argument("--drain", type=float, default=30.0,
                   help="seconds in-flight requests get to finish after SIGTERM")
    s.set_defaults(func=cmd_serve)

    from core.gateway.commands import add_commands

    add_commands(sub)  # keys, webhooks, budgets
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command. Every error is one line on stderr, never a traceback: 2 bad input,
    3 the workspace could not be used (locked, unreadable, read-only), 1 anything unexpected
    (``TRADEOFF_DEBUG=1`` shows its traceback), 130 interrupted."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        _error(exc.one_line())
        return 2
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except Exception as exc:
        from core.settings import debug

        failure = describe(exc, _workspace_path())
        if failure.kind == "store":
            _error(failure.message)
            return 3
        if failure.kind == "input" or isinstance(exc, ValueError):  # a file, a bad value
            _error(failure.message if failure.kind == "input" else str(exc))
            return 2
        if debug():
            raise
        _error(failure.message + " Rerun with TRADEOFF_DEBUG=1 to see where.")
        return 1


def _error(text: str) -> None:
    from core.live.keys import redact

    line = " ".join(redact(text).split())  # one line, no key
    print(f"error: {line}", file=sys.stderr)


def _workspace_path():
    from core.workspace import default_label

    return default_label()
