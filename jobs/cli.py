"""`chegou-hub jobs list | run JOB [--slot SLOT] | dead-letters [--all] | retry ID`.

Imports stay inside the commands: importing the CLI must stay cheap."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.hub import Hub


def register(subparsers: Any) -> None:
    jobs = subparsers.add_parser("jobs", help="scheduled jobs: list, run, dead letters")
    sub = jobs.add_subparsers(dest="jobs_command", metavar="ACTION")

    listing = sub.add_parser("list", help="jobs with next run and last outcome")
    listing.set_defaults(func=_cmd_list)

    run = sub.add_parser("run", help="run one job now (posts go to stdout)")
    run.add_argument("job", metavar="JOB")
    run.add_argument(
        "--slot", help="run this slot (refused if it already ran); default: a manual slot"
    )
    run.set_defaults(func=_cmd_run)

    letters = sub.add_parser("dead-letters", help="jobs that failed every attempt")
    letters.add_argument("--all", action="store_true", help="include resolved ones")
    letters.set_defaults(func=_cmd_dead_letters)

    retry = sub.add_parser("retry", help="re-run a dead letter once")
    retry.add_argument("id", type=int, metavar="ID")
    retry.set_defaults(func=_cmd_retry)

    jobs.set_defaults(func=lambda args: (jobs.print_help(), 0)[1])


class StdoutNotifier:
    """Posts printed to the terminal: the CLI runs jobs without a Slack connection."""

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> str | None:
        print(f"[{channel}] {text}")
        return None

    def upload(
        self,
        channel: str,
        filename: str,
        content: bytes,
        *,
        title: str | None = None,
        comment: str | None = None,
        thread_ts: str | None = None,
    ) -> None:
        print(f"[{channel}] arquivo {filename} ({len(content)} bytes) {comment or ''}".rstrip())


def _hub() -> Hub:
    from bot.db import make_engine, upgrade
    from bot.hub import Hub
    from bot.settings import load_settings

    settings = load_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return Hub.create(settings, engine=engine, notifier=StdoutNotifier())


def _local(hub: Hub, when: Any) -> str:
    return when.astimezone(hub.settings.tz).strftime("%Y-%m-%d %H:%M") if when else "-"


def _cmd_list(args: argparse.Namespace) -> int:
    from jobs.runs import job_statuses, open_dead_letters

    hub = _hub()
    try:
        rows = [("JOB", "PRIORIDADE", "PRÓXIMA", "ÚLTIMA", "RESULTADO", "ITENS")]
        for status in job_statuses(hub):
            last = status.last_run
            rows.append(
                (
                    status.spec.id,
                    status.spec.priority,
                    _local(hub, status.next_run),
                    _local(hub, last.started_at) if last else "-",
                    last.outcome if last else "-",
                    str(last.items) if last else "-",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        letters = open_dead_letters(hub)
        if letters:
            print(f"\n{len(letters)} falha(s) aberta(s): chegou-hub jobs dead-letters")
        print(f"\nHorários em {hub.settings.hub_time_zone}.")
    finally:
        hub.close()
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from jobs.scheduler import UnknownJob, get_scheduler

    hub = _hub()
    scheduler = get_scheduler(hub)
    try:
        result = scheduler.run_now(args.job, slot=args.slot)
    except UnknownJob:
        print(f"job desconhecido: {args.job}. Jobs: {', '.join(sorted(scheduler.specs))}")
        return 2
    finally:
        scheduler.shutdown()
        hub.close()
    print(f"{result.job_id} slot={result.slot} resultado={result.outcome} itens={result.items}")
    if result.error:
        print(f"erro: {result.error}")
    if result.retry_at:
        print(f"nova tentativa agendada para {_local(hub, result.retry_at)}")
    if result.dead_letter_id:
        print(f"na fila de falhas: #{result.dead_letter_id}")
    return 0 if result.outcome in ("ok", "skipped") else 1


def _cmd_dead_letters(args: argparse.Namespace) -> int:
    from jobs.runs import open_dead_letters

    hub = _hub()
    try:
        letters = open_dead_letters(hub, include_resolved=args.all)
        if not letters:
            print("nenhuma falha aberta")
            return 0
        for letter in letters:
            print(
                f"#{letter.id}  {letter.job_id}  slot={letter.slot}  tentativas={letter.attempts}"
                f"  status={letter.status}  desde={_local(hub, letter.created_at)}\n"
                f"    args={letter.args}\n    erro={letter.error}"
            )
    finally:
        hub.close()
    return 0


def _cmd_retry(args: argparse.Namespace) -> int:
    from jobs.scheduler import get_scheduler

    hub = _hub()
    scheduler = get_scheduler(hub)
    try:
        result = scheduler.retry_dead_letter(args.id, by="cli")
    except LookupError as exc:
        print(f"não encontrei: {exc}")
        return 2
    finally:
        scheduler.shutdown()
        hub.close()
    print(f"falha #{args.id}: {result.outcome}" + (f" ({result.error})" if result.error else ""))
    return 0 if result.outcome in ("ok", "skipped") else 1
