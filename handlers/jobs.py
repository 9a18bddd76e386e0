"""`/hub jobs` (list, run now, dead letters, re-run) and `/hub alerts` (open incidents)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.security.roles import Role
from handlers.registry import CommandContext, UsageError, subcommand

if TYPE_CHECKING:
    from bot.hub import Hub
    from jobs.models import DeadLetter, Incident
    from jobs.runs import JobStatus, RunResult

PRIORITY_PT = {"critical": "crítica", "normal": "normal", "low": "baixa"}
OUTCOME_PT = {
    "ok": "✅ ok",
    "failed": "❌ falhou",
    "running": "⏳ rodando",
    "missed": "⏭️ perdida (atraso acima da tolerância)",
}


def _when(hub: Hub, when: datetime | None) -> str:
    return when.astimezone(hub.settings.tz).strftime("%d/%m %H:%M") if when else "—"


# --- /hub jobs ---------------------------------------------------------------------------------
@subcommand(
    "jobs",
    usage="/hub jobs [run <job> | falhas | retry <id>]",
    summary="Jobs agendados: próxima execução, último resultado, rodar agora, reprocessar falhas",
    examples=["/hub jobs", "/hub jobs run alerts.poll", "/hub jobs falhas", "/hub jobs retry 12"],
    min_role=Role.OPERATOR,
    details=(
        "run <job> — roda o job agora",
        "falhas — lista os jobs que esgotaram as tentativas",
        "retry <id> — reprocessa uma falha",
    ),
)
def jobs_command(ctx: CommandContext) -> None:
    verb = ctx.args[0].lower() if ctx.args else "list"
    if verb in ("list", "listar"):
        _list_jobs(ctx)
    elif verb in ("run", "rodar"):
        _run_job(ctx)
    elif verb in ("retry", "reprocessar"):
        _retry(ctx)
    elif verb in ("falhas", "dead-letters"):
        _dead_letters(ctx)
    else:
        raise UsageError(f"Não conheço `{verb}`. Use `run`, `falhas` ou `retry`.")


def _list_jobs(ctx: CommandContext) -> None:
    from jobs.runs import job_statuses, open_dead_letters

    hub = ctx.hub
    statuses = job_statuses(hub)
    letters = open_dead_letters(hub)
    if not statuses:
        ctx.reply("Nenhum job agendado.")
        return
    lines = [_job_line(hub, status) for status in statuses]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Jobs agendados"}},
    ]
    # Sections hold at most 3000 characters: group the lines.
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > 2900:
            blocks.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(_section("\n".join(chunk)))
    footer = f"Horários em {hub.settings.hub_time_zone}."
    if letters:
        footer = (
            f"⚠️ {len(letters)} falha(s) aguardando reprocessamento: `/hub jobs falhas`. " + footer
        )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    ctx.reply("Jobs agendados\n" + "\n".join(lines), blocks)


def _job_line(hub: Hub, status: JobStatus) -> str:
    spec, last = status.spec, status.last_run
    line = f"• *{spec.id}* ({PRIORITY_PT[spec.priority]}) — próxima: {_when(hub, status.next_run)}"
    if last is None:
        line += " · ainda não rodou"
    else:
        outcome = OUTCOME_PT.get(last.outcome, last.outcome)
        line += f" · última: {outcome} em {_when(hub, last.started_at)}"
        if last.outcome == "ok" and last.items:
            line += f" ({last.items} itens)"
    if spec.description:
        line += f"\n      {spec.description}"
    return line


def _run_job(ctx: CommandContext) -> None:
    from jobs.scheduler import UnknownJob, get_scheduler

    if len(ctx.args) < 2:
        raise UsageError("Diga qual job rodar, por exemplo `/hub jobs run alerts.poll`.")
    job_id = ctx.args[1]
    scheduler = get_scheduler(ctx.hub)
    try:
        result = scheduler.run_now(job_id)
    except UnknownJob:
        known = ", ".join(f"`{j}`" for j in sorted(scheduler.specs)) or "nenhum"
        raise UsageError(f"O job `{job_id}` não existe. Jobs: {known}.") from None
    ctx.reply(_result_text(ctx.hub, result))


def _retry(ctx: CommandContext) -> None:
    from jobs.scheduler import get_scheduler

    if len(ctx.args) < 2 or not ctx.args[1].lstrip("#").isdigit():
        raise UsageError("Informe o número da falha, por exemplo `/hub jobs retry 12`.")
    letter_id = int(ctx.args[1].lstrip("#"))
    try:
        result = get_scheduler(ctx.hub).retry_dead_letter(letter_id, by=ctx.user_id)
    except LookupError:
        raise UsageError(
            f"Não encontrei a falha #{letter_id} (ou o job dela não existe mais). "
            "Veja as falhas abertas com `/hub jobs falhas`."
        ) from None
    if result.outcome == "skipped":
        ctx.reply(f"ℹ️ A falha #{letter_id} já foi reprocessada; nada a fazer.")
        return
    if result.outcome == "ok":
        ctx.reply(
            f"✅ Falha #{letter_id} reprocessada: `{result.job_id}` ({result.slot}) rodou "
            f"com sucesso ({result.items} itens). O alerta foi encerrado."
        )
        return
    ctx.reply(
        f"❌ A falha #{letter_id} continua: `{result.job_id}` falhou de novo com "
        f"`{result.error}`. Corrija a causa e tente `/hub jobs retry {letter_id}` outra vez."
    )


def _dead_letters(ctx: CommandContext) -> None:
    from jobs.runs import open_dead_letters

    letters = open_dead_letters(ctx.hub)
    if not letters:
        ctx.reply("✅ Nenhuma falha aguardando reprocessamento.")
        return
    lines = _capped([_letter_line(ctx.hub, letter) for letter in letters])
    text = lines + "\nReprocesse com `/hub jobs retry <id>`."
    ctx.reply(text, [_section(text[:3000])])


def _letter_line(hub: Hub, letter: DeadLetter) -> str:
    return (
        f"• *#{letter.id}* `{letter.job_id}` ({letter.slot}) — {letter.attempts} tentativas, "
        f"desde {_when(hub, letter.created_at)}\n      Erro: `{letter.error[:200]}`"
    )


def _result_text(hub: Hub, result: RunResult) -> str:
    job = f"`{result.job_id}`"
    if result.outcome == "ok":
        text = f"✅ {job} rodou agora: {result.items} itens."
        return f"{text} {result.summary}" if result.summary else text
    if result.outcome == "skipped":
        return f"ℹ️ {job} já rodou para {result.slot}; não rodei de novo."
    if result.dead_letter_id is not None:
        return (
            f"❌ {job} falhou (`{result.error}`) e foi para a fila de falhas "
            f"(#{result.dead_letter_id}). Depois de corrigir, use "
            f"`/hub jobs retry {result.dead_letter_id}`."
        )
    retry = f" Nova tentativa às {_when(hub, result.retry_at)}." if result.retry_at else ""
    return f"❌ {job} falhou: `{result.error}`.{retry}"


def _capped(lines: list[str], most: int = 20) -> str:
    """The first `most` lines, then how many were left out."""
    more = f"\n…e mais {len(lines) - most}." if len(lines) > most else ""
    return "\n".join(lines[:most]) + more


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# --- /hub alerts -------------------------------------------------------------------------------
@subcommand(
    "alerts",
    usage="/hub alerts",
    summary="Alertas abertos (APIs fora do ar, lentidão, limites, custos, jobs com falha)",
    examples=["/hub alerts"],
    aliases=("alertas",),
)
def alerts_command(ctx: CommandContext) -> None:
    from jobs.alerts import open_incidents

    incidents = open_incidents(ctx.hub)
    if not incidents:
        ctx.reply("✅ Nenhum alerta aberto.")
        return
    lines = _capped([_incident_line(ctx.hub, incident) for incident in incidents])
    text = f"*{len(incidents)} alerta(s) aberto(s)*\n{lines}"
    ctx.reply(text, [_section(text[:3000])])


def _incident_line(hub: Hub, incident: Incident) -> str:
    from jobs.alerts import SEVERITY_EMOJI

    emoji = SEVERITY_EMOJI.get(incident.severity, "⚠️")
    first = incident.text.splitlines()[0] if incident.text else ""
    line = f"{emoji} *{incident.title}* — desde {_when(hub, incident.opened_at)} (#{incident.id})"
    return f"{line}\n      {first[:200]}" if first else line
