"""The gateway's admin commands (``python -m core keys|webhooks|budgets ...``).

::

    python -m core keys create NAME            # prints the key once (stdout); its id on stderr
    python -m core keys list [--json]
    python -m core keys revoke ID_OR_NAME
    python -m core webhooks add NAME URL [--events KINDS]
    python -m core webhooks list|remove REF|test REF|deliveries [--json]
    python -m core budgets set --scope overall|team|key [--subject S] --period daily|weekly|monthly
                               --limit USD [--action alert|switch|refuse|stop] [--switch-to POLICY] [--at 70|90|100]
    python -m core budgets list|status [--json] | remove BUDGET_ID

Bad input is an InputError (one line, exit 2, from :func:`core.cli.main`).
"""
from __future__ import annotations

import json
import sys

from core.errors import InputError
from core.exports import json_safe


def _ws():
    from core.workspace import open_workspace

    return open_workspace()


def _print_frame(frame, as_json: bool) -> None:
    if as_json:
        print(json.dumps(json_safe(frame.to_dict(orient="records")), indent=2))
    elif frame.empty:
        print("(none)")
    else:
        print(frame.to_string(index=False))


def cmd_keys(args) -> int:
    from core.gateway import apikeys

    ws = _ws()
    if args.keys_command == "create":
        made = apikeys.create_key(ws, args.name)
        print(f"created gateway key {made['key_id']} ({made['name']}); it is shown once, store it now:",
              file=sys.stderr)
        print(made["key"])
    elif args.keys_command == "list":
        _print_frame(apikeys.list_keys(ws), args.json)
    elif not apikeys.revoke_key(ws, args.ref):
        raise InputError(f"No active gateway key '{args.ref}': see `python -m core keys list`")
    else:
        print(f"revoked {args.ref}", file=sys.stderr)
    return 0


def cmd_webhooks(args) -> int:
    from core.gateway import webhooks

    ws = _ws()
    command = args.webhooks_command
    if command == "add":
        made = webhooks.add_webhook(ws, args.name, args.url, args.events)
        print(f"added webhook {made['webhook_id']} ({made['name']}, {made['url']})", file=sys.stderr)
    elif command == "list":
        _print_frame(webhooks.list_webhooks(ws), args.json)
    elif command == "remove":
        if not webhooks.remove_webhook(ws, args.ref):
            raise InputError(f"No active webhook '{args.ref}': see `python -m core webhooks list`")
        print(f"removed {args.ref}", file=sys.stderr)
    elif command == "test":
        sent = webhooks.ping_webhook(ws, args.ref)
        last = sent.attempts[-1]
        outcome = f"HTTP {last.status_code}" if last.status_code else last.error
        print(f"webhook {args.ref}: {'delivered' if last.ok else 'failed'} after {len(sent.attempts)} "
              f"attempt(s) ({outcome})", file=sys.stderr)
        return 0 if last.ok else 1
    else:
        _print_frame(webhooks.deliveries(ws, args.limit), args.json)
    return 0


def cmd_budgets(args) -> int:
    import pandas as pd

    from core.gateway import budgets

    ws = _ws()
    command = args.budgets_command
    if command == "set":
        from core.gateway.deployments import current_deployments, saved_policies

        servable = set(current_deployments(ws)) | set(saved_policies(ws))
        made = budgets.set_budget(ws, args.scope, args.period, args.limit, subject=args.subject,
                                  action=args.action, switch_to=args.switch_to, action_at=args.at,
                                  servable=servable)
        print(f"budget {made['budget_id']}: {budgets.describe(made)} ${made['limit_usd']:,.2f}, "
              f"action {made['action']} at {made['action_at']}%", file=sys.stderr)
    elif command == "list":
        _print_frame(budgets.list_budgets(ws), args.json)
    elif command == "status":
        _print_frame(pd.DataFrame(budgets.budget_state(ws)), args.json)
    elif not budgets.remove_budget(ws, args.budget_id):
        raise InputError(f"No gateway budget '{args.budget_id}': see `python -m core budgets list`")
    return 0


def add_commands(sub) -> None:
    """Register ``keys``, ``webhooks`` and ``budgets`` on the CLI's subparsers."""
    from core.gateway.budgets import ACTIONS, SCOPES
    from core.spend.budgets import PERIODS

    s = sub.add_parser("keys", help="gateway keys (create, list, revoke)")
    ks = s.add_subparsers(dest="keys_command", required=True)
    k = ks.add_parser("create", help="create a key (printed once)")
    k.add_argument("name")
    k = ks.add_parser("list", help="keys (never the keys themselves)")
    k.add_argument("--json", action="store_true")
    k = ks.add_parser("revoke", help="revoke a key by id or name")
    k.add_argument("ref")
    s.set_defaults(func=cmd_keys)

    s = sub.add_parser("webhooks", help="webhooks for gateway events (budget alerts, ...)")
    ws = s.add_subparsers(dest="webhooks_command", required=True)
    w = ws.add_parser("add", help="add a webhook (Slack incoming webhooks work as they are)")
    w.add_argument("name")
    w.add_argument("url")
    w.add_argument("--events", default="*", help="'*' (default), or kinds / prefixes: budget.,rollout.")
    w = ws.add_parser("list")
    w.add_argument("--json", action="store_true")
    w = ws.add_parser("remove")
    w.add_argument("ref")
    w = ws.add_parser("test", help="send a test event to one webhook")
    w.add_argument("ref")
    w = ws.add_parser("deliveries", help="every delivery attempt, newest first")
    w.add_argument("--limit", type=int, default=50)
    w.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_webhooks)

    s = sub.add_parser("budgets", help="budgets enforced by the gateway (overall, per team, per key)")
    bs = s.add_subparsers(dest="budgets_command", required=True)
    b = bs.add_parser("set", help="create or replace the budget of (scope, subject, period)")
    b.add_argument("--scope", required=True, choices=SCOPES)
    b.add_argument("--subject", help="the team, or the key's id or name")
    b.add_argument("--period", required=True, choices=PERIODS)
    b.add_argument("--limit", required=True, help="US dollars")
    b.add_argument("--action", default="alert", choices=ACTIONS)
    b.add_argument("--switch-to", help="action switch: the cheaper policy (NAME or tradeoff/NAME)")
    b.add_argument("--at", type=int, default=100, choices=(70, 90, 100),
                   help="percent of the limit at which the action applies")
    b = bs.add_parser("list")
    b.add_argument("--json", action="store_true")
    b = bs.add_parser("status", help="spend this period of each budget")
    b.add_argument("--json", action="store_true")
    b = bs.add_parser("remove")
    b.add_argument("budget_id")
    s.set_defaults(func=cmd_budgets)
