"""The house rules of ARCHITECTURE.md, checked on the code itself (imports, SQL, sizes).

Read from the source with `ast`, nothing imported: a rule broken anywhere fails here with
the file and line that broke it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = "engine"
DOORS = ("api", "mcp_server", "bots", "portal")
COMPOSITION = "cli"
PACKAGES = (ENGINE, *DOORS, COMPOSITION)
MAX_LINES = 700

# Each table's SQL lives in the module that owns it: every write, and every read whose
# main table (the first FROM) it is. Other modules call the owner's functions; a query may
# still look into another table in a join or a subquery.
TABLE_OWNERS = {
    "accounts": "engine/ledger.py",
    "ledger": "engine/ledger.py",
    "api_keys": "engine/keys.py",
    "jobs": "engine/jobs.py",
    "webhook_deliveries": "engine/webhooks.py",
    "users": "engine/users.py",
    "sessions": "engine/sessions.py",
}
SCHEMA = "engine/db.py"  # the migrations create every table
WRITE = re.compile(r"\b(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)", re.I)
MAIN_READ = re.compile(r"^\s*SELECT\b.*?\bFROM\s+(\w+)", re.I | re.S)
ANY_SQL = re.compile(
    r"^\s*(?:SELECT\b.*\bFROM|INSERT\s|UPDATE\s+\w+\s+SET|DELETE\s+FROM)", re.I | re.S
)


def modules(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def imported_packages(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level package) of every absolute import in the file, at any depth
    (imports inside functions count: they tie the code together all the same)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def sql_strings(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of every string constant that reads as an SQL statement. f-strings
    count by their constant parts (`f"{_SELECT} WHERE ..."` has its SELECT elsewhere)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and ANY_SQL.search(node.value):
            yield node.lineno, node.value


def test_the_engine_imports_no_door_and_not_the_composition() -> None:
    found = [
        f"{relative(path)}:{line} imports {package}"
        for path in modules(ENGINE)
        for line, package in imported_packages(path)
        if package in (*DOORS, COMPOSITION)
    ]
    assert found == []


@pytest.mark.parametrize("door", DOORS)
def test_a_door_imports_no_other_door_and_not_the_composition(door: str) -> None:
    others = [d for d in DOORS if d != door] + [COMPOSITION]
    found = [
        f"{relative(path)}:{line} imports {package}"
        for path in modules(door)
        for line, package in imported_packages(path)
        if package in others
    ]
    assert found == []


def test_there_is_no_sql_outside_the_engine() -> None:
    found = [
        f"{relative(path)}:{line}: {text.strip()[:60]}"
        for path in modules(*DOORS, COMPOSITION)
        for line, text in sql_strings(path)
    ]
    assert found == []


def test_each_tables_sql_is_in_the_module_that_owns_it() -> None:
    found = []
    for path in modules(ENGINE):
        name = relative(path)
        if name == SCHEMA:
            continue
        for line, text in sql_strings(path):
            tables = [m.group(1) for m in WRITE.finditer(text)]
            main = MAIN_READ.match(text)
            tables += [main.group(1)] if main else []
            for table in tables:
                owner = TABLE_OWNERS.get(table.lower())
                if owner != name:
                    found.append(f"{name}:{line} uses {table} (owned by {owner})")
    assert found == []


def test_no_module_is_over_the_size_a_reader_can_hold() -> None:
    found = [
        f"{relative(path)}: {lines} lines"
        for path in modules(*PACKAGES, "scripts")
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert found == []


def test_the_rules_see_the_code_they_judge() -> None:
    """A check that reads nothing passes everything: make sure each one has material."""
    assert len(list(modules(ENGINE))) > 30
    assert all(list(modules(door)) for door in DOORS)
    jobs_sql = [text for _, text in sql_strings(ROOT / "engine" / "jobs.py")]
    assert any(WRITE.search(text) for text in jobs_sql)
    assert any(MAIN_READ.match(text) for text in jobs_sql)
    api_imports = {package for p in modules("api") for _, package in imported_packages(p)}
    assert ENGINE in api_imports
