"""The knowledge base: the hub's guides (docs/**/*.md) in a SQLite FTS5 index.

Each guide is split into sections at `##` headings; a section row keeps the guide title (its
`#` heading), the section heading, the path and the text. The index lives in an in-memory
SQLite database (FTS5 exists on SQLite only, whatever DATABASE_URL says) and is rebuilt when
any file changes: every search compares the files' (path, size, mtime) fingerprint first, and a
changed fingerprint re-reads the files and rebuilds only if their content hash changed.

Queries are accent-insensitive (`unicode61 remove_diacritics 2`), ranked with `bm25()` (titles
and headings weigh more than body text) and return `snippet()` excerpts.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.hub import Hub

# Common Portuguese words that carry no meaning for search.
_STOPWORDS_TEXT = """
a o as os um uma uns umas de do da dos das no na nos nas em por para pra com sem que qual quais
quando como onde e ou se eu voce você vc me meu minha nosso nossa isso esse essa este esta isto
ao aos à às é são ser foi tem têm ter há mais menos muito pelo pela pelos pelas sobre entre até
já não nao sim lá aqui hub chegou
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_WORD = re.compile(r"\w+", re.UNICODE)
_HEADING = re.compile(r"^(#{1,2})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class SearchHit:
    guide: str  # the guide's title
    section: str
    path: str  # relative to the docs directory
    snippet: str
    score: float
    body: str = ""

    def to_dict(self, *, with_text: bool = False, max_chars: int = 1500) -> dict[str, object]:
        out: dict[str, object] = {
            "guide": self.guide,
            "section": self.section,
            "path": self.path,
            "snippet": self.snippet,
        }
        if with_text:
            text = self.body if len(self.body) <= max_chars else self.body[:max_chars] + "…"
            out["text"] = text
        return out


@dataclass(frozen=True)
class Section:
    guide: str
    section: str
    path: str
    body: str


def split_guide(path: str, text: str) -> list[Section]:
    """Sections of one Markdown guide, split at `##` headings (the `#` heading is the title)."""
    title = Path(path).stem.replace("-", " ").capitalize()
    sections: list[Section] = []
    current = "Introdução"
    lines: list[str] = []
    in_code = False

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body:
            sections.append(Section(title, current, path, body))

    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            title = match.group(2)
            continue
        if match:
            flush()
            current = match.group(2)
            lines = []
            continue
        lines.append(line)
    flush()
    # The title is known only once the `#` line is read: apply it to every section.
    return [Section(title, s.section, s.path, s.body) for s in sections]


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A crude Portuguese stem: no accents, no plural/-ção endings, at most 6 letters."""
    word = _fold(word.lower())
    for suffix in ("coes", "cao", "oes", "aes", "ao", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:6]


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression: meaningful words, stemmed, as prefixes, OR-ed."""
    terms: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS or _fold(word) in STOPWORDS or len(word) < 2:
            continue
        root = stem(word)
        term = f'"{root}"*' if len(root) >= 4 else f'"{root}"'
        if term not in terms:
            terms.append(term)
    return " OR ".join(terms[:16])


class KnowledgeBase:
    def __init__(self, docs_dir: str | Path) -> None:
        self.docs_dir = Path(docs_dir)
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        self._conn.execute(
            "CREATE VIRTUAL TABLE sections USING fts5("
            "guide, section, body, path UNINDEXED, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
        self._lock = threading.Lock()
        self._fingerprint: tuple[tuple[str, int, int], ...] | None = None
        self._content_hash = ""
        self.builds = 0  # how many times the index was (re)built

    @classmethod
    def for_hub(cls, hub: Hub) -> KnowledgeBase:
        kb = hub.services.get("assistant.knowledge")
        if not isinstance(kb, KnowledgeBase):
            kb = cls(hub.settings.hub_docs_dir)
            hub.services["assistant.knowledge"] = kb
        return kb

    def _files(self) -> list[Path]:
        if not self.docs_dir.is_dir():
            return []
        return sorted(p for p in self.docs_dir.rglob("*.md") if p.is_file())

    def refresh(self) -> bool:
        """Rebuild the index if the guides changed; True when it was rebuilt."""
        files = self._files()
        fingerprint = tuple(
            (str(p.relative_to(self.docs_dir)), p.stat().st_size, p.stat().st_mtime_ns)
            for p in files
        )
        with self._lock:
            if fingerprint == self._fingerprint:
                return False
            texts = {str(p.relative_to(self.docs_dir)): p.read_text("utf-8") for p in files}
            digest = hashlib.sha256(
                "\0".join(f"{k}\0{v}" for k, v in sorted(texts.items())).encode()
            ).hexdigest()
            self._fingerprint = fingerprint
            if digest == self._content_hash:
                return False
            with self._conn:
                self._conn.execute("DELETE FROM sections")
                for path, text in texts.items():
                    self._conn.executemany(
                        "INSERT INTO sections (guide, section, body, path) VALUES (?, ?, ?, ?)",
                        [(s.guide, s.section, s.body, s.path) for s in split_guide(path, text)],
                    )
            self._content_hash = digest
            self.builds += 1
            return True

    def search(self, query: str, limit: int = 5) -> list[SearchHit]:
        self.refresh()
        match = fts_query(query)
        if not match:
            return []
        with self._lock:
            rows = self._conn.execute(
                "SELECT guide, section, path, "
                "snippet(sections, 2, '*', '*', '…', 24), "
                "bm25(sections, 5.0, 3.0, 1.0) AS rank, body "
                "FROM sections WHERE sections MATCH ? ORDER BY rank LIMIT ?",
                (match, limit),
            ).fetchall()
        return [
            SearchHit(guide, section, path, " ".join(snippet.split()), float(rank), body)
            for guide, section, path, snippet, rank, body in rows
        ]

    def outline(self) -> str:
        """One line per guide with its sections (stable until a guide changes)."""
        self.refresh()
        with self._lock:
            rows = self._conn.execute(
                "SELECT guide, path, group_concat(section, '; ') FROM "
                "(SELECT guide, path, section FROM sections ORDER BY path, rowid) "
                "GROUP BY path ORDER BY path"
            ).fetchall()
        return "\n".join(f"- *{guide}*: {sections}" for guide, _path, sections in rows)

    def guides(self) -> list[str]:
        """Titles of the indexed guides."""
        self.refresh()
        with self._lock:
            rows = self._conn.execute("SELECT DISTINCT guide FROM sections ORDER BY guide")
            return [r[0] for r in rows.fetchall()]
