"""The demo console: type what you would type in Slack, read what the bot answers.

Line syntax (interactive and in `.hub` tour scripts):

    /hub <texto>                 slash command in the current channel (default #geral)
    @hub <texto>                 mention in the current channel (the answer comes in a thread)
    <texto>                      a DM to the bot (its Messages tab)
    !click N                     click the button numbered N in the output
    !click "<rótulo>"            click the most recently shown button with that label (still there)
    !as <pessoa>                 switch person: admin|operador|viewer, ana|otavio|vera or a U… id
    !channel <#nome|C…>          switch channel (#geral, #alertas, #custos-ia, #shopify, …)
    !home                        open the Home tab
    !expect <texto>              the last output must contain <texto>, otherwise the step fails
    !expect-not <texto>          the last output must NOT contain <texto>
    !fault <sim> <prefixo> <status|reset|malformed|auth|429|latency=S> [vezes]
                                 inject a fault in a simulator (`!fault slack /api/chat 503`)
    !clear-faults [sim]          remove injected faults (all simulators without a name)
    !job <job-id>                run a scheduled job now (jobs.scheduler)
    !help                        this text
    # comentário                 ignored (blank lines too)

Output: each bot message with where it went (channel, thread, DM, "só para você"), Block Kit as
text, buttons numbered `[N]`, thread replies indented, files saved under demo-output/.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.sandbox.render import mrkdwn, render_blocks
from bot.sandbox.slack_sim import BOT_USER_ID, SimMessage, iter_buttons
from integrations.runtime.harness import Fault

if TYPE_CHECKING:
    from bot.sandbox.demo import DemoSession

HELP = """\
    /hub <texto>                 comando no canal atual (padrão #geral)
    @hub <texto>                 menção no canal atual (a resposta vem no fio)
    <texto>                      mensagem direta (DM) para o bot
    !click N                     clica no botão numerado [N]
    !click "<rótulo>"            clica no último botão mostrado com esse rótulo (que ainda exista)
    !as <pessoa>                 troca de pessoa: admin|operador|viewer, ana|otavio|vera ou um id U…
    !channel <#nome|C…>          troca de canal (#geral, #alertas, #custos-ia, #shopify, …)
    !home                        abre a aba Início (Home)
    !expect <texto>              a última saída precisa conter <texto> (senão o passo falha)
    !expect-not <texto>          a última saída NÃO pode conter <texto>
    !fault <sim> <prefixo> <status|reset|malformed|auth|429|latency=S> [vezes]
                                 injeta uma falha num simulador (`!fault slack /api/chat 503`)
    !clear-faults [sim]          remove as falhas injetadas (de todos, sem nome)
    !job <job-id>                roda um job agendado agora
    !help                        esta ajuda
    # comentário                 ignorado (linhas em branco também)
"""


class StepFailed(Exception):
    pass


@dataclass
class _Button:
    source: SimMessage | dict[str, Any]
    action_id: str
    label: str


@dataclass
class Console:
    session: DemoSession
    write: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    user: str = "U0ADMIN001"
    channel: str = "C0GENERAL1"
    last_output: str = ""
    failures: list[str] = field(default_factory=list)
    _buttons: list[_Button] = field(default_factory=list)
    _seen_count: int = 0
    _seen_edits: dict[int, int] = field(default_factory=dict)
    _saved_files: set[str] = field(default_factory=set)
    _home_shown: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self._seen_count = len(self.session.slack.all_messages_raw())

    # --- input ------------------------------------------------------------------------------
    def run_line(self, line: str, *, where: str = "") -> bool:
        """Execute one line; False when it is a failed step (also recorded in `failures`)."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        try:
            self._dispatch(line)
        except StepFailed as exc:
            self._fail(where, line, str(exc))
            return False
        except Exception as exc:
            self._fail(where, line, f"{type(exc).__name__}: {exc}")
            return False
        return True

    def _fail(self, where: str, line: str, reason: str) -> None:
        label = f"{where}: " if where else ""
        self.failures.append(f"{label}{line} → {reason}")
        self.write(f"✗ FALHOU {label}{line}\n  {reason}")

    def _dispatch(self, line: str) -> None:
        driver = self.session.driver
        if line.startswith("/hub"):
            self._echo(line)
            driver.command(line[4:].strip(), user=self.user, channel=self.channel)
            self._show_new()
        elif line.startswith("@hub"):
            self._echo(line)
            driver.mention(line[4:].strip(), user=self.user, channel=self.channel)
            self._show_new()
        elif line.startswith("!"):
            self._bang(line[1:])
        else:
            self._echo(line, dm=True)
            driver.dm(line, user=self.user)
            self._show_new()

    def _bang(self, rest: str) -> None:
        name, _, arg = rest.partition(" ")
        arg = arg.strip()
        if name == "click":
            self._click(arg)
        elif name == "as":
            self.user = self._resolve_user(arg)
            self.write(f"(agora você é @{self._name(self.user)})")
        elif name == "channel":
            self.channel = self._resolve_channel(arg)
            self.write(f"(canal atual: #{self._name(self.channel)})")
        elif name == "home":
            self.session.driver.open_home(user=self.user)
            self._show_home()
        elif name == "expect":
            if not arg:
                raise StepFailed("!expect precisa de um texto")
            if arg not in self.last_output:
                raise StepFailed(f"esperava encontrar {arg!r} na última saída")
            self.write(f"✓ contém {arg!r}")
        elif name == "expect-not":
            if arg in self.last_output:
                raise StepFailed(f"não esperava encontrar {arg!r} na última saída")
            self.write(f"✓ não contém {arg!r}")
        elif name == "fault":
            self._fault(arg)
        elif name == "clear-faults":
            sims = [self._sim(arg)] if arg else list(self.session.env.simulators.values())
            for sim in sims:
                sim.faults.clear()
            self.write("(falhas removidas)")
        elif name == "job":
            if not arg:
                raise StepFailed("!job precisa do id do job")
            self.write(f"⏱  rodando o job {arg}…")
            result = self.session.run_job(arg)
            self._show_new(extra=result)
        elif name == "help":
            self.write(HELP)
        else:
            raise StepFailed(f"comando do console desconhecido: !{name} (veja !help)")

    # --- actions ------------------------------------------------------------------------------
    def _click(self, arg: str) -> None:
        if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'":
            label = arg[1:-1]
            numbers = [
                i
                for i, b in enumerate(self._buttons, 1)
                if b.label == label and self._still_shown(b)
            ]
            if not numbers:
                raise StepFailed(f"nenhum botão {label!r} visível foi mostrado até agora")
            arg = str(numbers[-1])
        if not arg.isdigit() or not 1 <= int(arg) <= len(self._buttons):
            raise StepFailed(f"não há botão [{arg}] (botões vistos: {len(self._buttons)})")
        button = self._buttons[int(arg) - 1]
        self.write(f"> @{self._name(self.user)} clica em [{arg}] {button.label}")
        message = button.source if isinstance(button.source, SimMessage) else None
        self.session.driver.click(button.action_id, user=self.user, message=message)
        self._show_new()

    @staticmethod
    def _still_shown(button: _Button) -> bool:
        """False when the button's message was deleted or edited without it (e.g. a used card)."""
        source = button.source
        if not isinstance(source, SimMessage):
            return True
        if source.deleted:
            return False
        return any(e.get("action_id") == button.action_id for _, e in iter_buttons(source.blocks))

    def _fault(self, arg: str) -> None:
        parts = shlex.split(arg)
        if len(parts) < 3:
            raise StepFailed(
                "uso: !fault <sim> <prefixo> <status|reset|malformed|auth|429> [vezes]"
            )
        sim, prefix, kind = self._sim(parts[0]), parts[1], parts[2]
        times = int(parts[3]) if len(parts) > 3 else None
        fault: Fault
        if kind == "reset":
            fault = Fault(reset=True)
        elif kind == "malformed":
            fault = Fault(malformed=True)
        elif kind == "auth":
            fault = Fault(auth=True)
        elif kind == "429":
            body = {"ok": False, "error": "ratelimited"} if parts[0] == "slack" else None
            fault = Fault(status=429, retry_after=1, body=body)
        elif kind.startswith("latency="):
            fault = Fault(latency=float(kind.split("=", 1)[1]))
        elif kind.isdigit():
            fault = Fault(status=int(kind))
        else:
            raise StepFailed(f"falha desconhecida: {kind}")
        sim.faults.add(prefix, fault, times=times)
        count = f"{times}x" if times else "até !clear-faults"
        self.write(f"(falha {kind} em {parts[0]}{prefix}, {count})")

    def _sim(self, name: str) -> Any:
        try:
            return self.session.env.simulators[name]
        except KeyError:
            known = ", ".join(sorted(self.session.env.simulators)) or "nenhum"
            raise StepFailed(f"simulador desconhecido: {name} (disponíveis: {known})") from None

    # --- output ------------------------------------------------------------------------------
    def _echo(self, line: str, *, dm: bool = False) -> None:
        where = "DM" if dm else f"#{self._name(self.channel)}"
        self.write(f"> @{self._name(self.user)} em {where}: {line}")

    def _show_new(self, extra: str = "") -> None:
        sim = self.session.slack
        messages = sim.all_messages_raw()
        out: list[str] = []
        for index, msg in enumerate(messages):
            is_new = index >= self._seen_count
            edited = msg.edited != self._seen_edits.get(index, 0) and not is_new
            if (is_new or edited) and self._visible(msg) and msg.user == BOT_USER_ID:
                out.append(self._render_message(msg, edited=edited))
            self._seen_edits[index] = msg.edited
        self._seen_count = len(messages)
        for upload in sim.uploads():
            if upload.id in self._saved_files or upload.content is None:
                continue
            self._saved_files.add(upload.id)
            path = self._save(upload.id, upload.filename, upload.content)
            out.append(
                f"📎 arquivo em #{self._name(upload.channel or '')}: {upload.title} → {path}"
            )
        if extra:
            out.append(extra)
        if not out:
            out.append("(sem resposta visível)")
        text = "\n".join(out)
        self.last_output = text
        self.write(text)

    def _visible(self, msg: SimMessage) -> bool:
        return msg.kind == "message" or msg.to_user == self.user

    def _render_message(self, msg: SimMessage, *, edited: bool) -> str:
        channel = self.session.slack.channels.get(msg.channel)
        if msg.kind == "ephemeral":
            where = f"só para você em #{self._name(msg.channel)}"
        elif channel is not None and channel.is_im:
            where = f"DM com @{self._name(channel.user or '')}"
        else:
            where = f"#{self._name(msg.channel)}"
        if msg.thread_ts and msg.thread_ts != msg.ts:
            where += " (no fio)"
        head = f"[{where}] Chegou Hub{' (editada)' if edited else ''}:"
        body = []
        if msg.streamed or not msg.blocks:
            body.extend(mrkdwn(msg.text, self._name).splitlines())
        if msg.blocks:
            body.extend(render_blocks(msg.blocks, lambda e, b: self._number(msg, e), self._name))
        if msg.streaming:
            body.append("…(escrevendo)")
        indent = "      ↳ " if msg.thread_ts and msg.thread_ts != msg.ts else "  "
        pad = " " * len(indent)
        lines = [head] + [(indent if i == 0 else pad) + line for i, line in enumerate(body or [""])]
        return "\n".join(lines)

    def _show_home(self) -> None:
        view = self.session.slack.views.get(self.user)
        if view is None:
            raise StepFailed("a aba Home não foi publicada")
        body = render_blocks(view.get("blocks", []), lambda e, b: self._number(view, e), self._name)
        text = "[Home do Chegou Hub]\n" + "\n".join("  " + line for line in body)
        self.last_output = text
        self.write(text)

    def _number(self, source: SimMessage | dict[str, Any], element: dict[str, Any]) -> str:
        label = str((element.get("text") or {}).get("text", ""))
        self._buttons.append(_Button(source, str(element.get("action_id")), label))
        return f"[{len(self._buttons)}] {label}"

    def _save(self, file_id: str, filename: str, content: bytes) -> Path:
        out_dir = self.session.output_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename) or "arquivo"
        path = out_dir / f"{file_id}-{safe}"
        path.write_bytes(content)
        return path

    # --- names ------------------------------------------------------------------------------
    def _name(self, ident: str) -> str:
        sim = self.session.slack
        if ident in sim.users:
            return sim.users[ident].name
        channel = sim.channels.get(ident)
        if channel is not None:
            return channel.name if not channel.is_im else f"dm-{channel.user}"
        return ident

    def _resolve_user(self, arg: str) -> str:
        from bot.sandbox.demo import DEMO_USERS

        arg = arg.lstrip("@").strip()
        if arg in DEMO_USERS:
            return DEMO_USERS[arg]
        sim = self.session.slack
        for user in sim.users.values():
            if arg in (user.id, user.name):
                return user.id
        if re.fullmatch(r"[UW][A-Z0-9]{8,}", arg):
            sim.ensure_user(arg)
            return arg
        raise StepFailed(f"pessoa desconhecida: {arg} (use admin, operador ou viewer)")

    def _resolve_channel(self, arg: str) -> str:
        arg = arg.lstrip("#").strip()
        for channel in self.session.slack.channels.values():
            if arg in (channel.id, channel.name):
                return channel.id
        raise StepFailed(f"canal desconhecido: {arg}")

    # --- scripts and the interactive loop ---------------------------------------------------
    def run_script(self, path: Path) -> int:
        """Run a `.hub` file (or every `*.hub` of a directory, by name); failed step count."""
        files = sorted(path.glob("*.hub")) if path.is_dir() else [path]
        if not files:
            self._fail(str(path), "", "nenhum arquivo .hub encontrado")
        before = len(self.failures)
        for file in files:
            self.write(f"\n=== {file.name} ===")
            self.user, self.channel = "U0ADMIN001", "C0GENERAL1"
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                self.run_line(line, where=f"{file.name}:{number}")
        return len(self.failures) - before

    def interactive(self) -> None:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history when available)
        self.write("Console do Chegou Hub (offline). !help mostra os comandos; Ctrl-D sai.")
        while True:
            try:
                line = input(f"@{self._name(self.user)} #{self._name(self.channel)}> ")
            except (EOFError, KeyboardInterrupt):
                self.write("")
                return
            self.run_line(line)


def main_loop(session: DemoSession, script: Path | None) -> int:
    console = Console(session)
    for warning in session.warnings:
        console.write(f"⚠️  simulador ignorado: {warning}")
    started = ", ".join(["slack", *session.started])
    console.write(f"Simuladores ativos: {started}")
    if script is None:
        console.interactive()
        return 0
    failed = console.run_script(script)
    if failed:
        console.write(f"\n{failed} passo(s) falharam:")
        for failure in console.failures:
            console.write(f"  - {failure}")
        return 1
    console.write("\nTour concluído sem falhas.")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: chegou-hub demo")
