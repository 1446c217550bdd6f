"""The PolicyEngine on cedarpy: the shipped schema and bundle plus the project's Cedar files.

Everything expensive happens once, in `load`: the files are split into policies, checked
against the schema and parsed into one `PolicySet`. A decision then hands Cedar only the
pre-parsed policy set and schema, a cached entity set and the context.

cedarpy reports parse and validation errors without source positions, so this module keeps
its own map from every policy back to its file, line and column and points each problem at
the token the error message names.

Project policies may restrict freely, but a permit in a project file widens access, so it
takes effect only once two different people (one an admin) approved its exact text; until then
it is listed as pending. The hash of the effective bundle goes into every audit record.
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_right
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import cedarpy

from leanops.errors import ConfigError
from leanops.policy import (
    ACTIONS,
    RESOURCE_TYPES,
    ROLE_PARENTS,
    PendingPermit,
    PolicyDecision,
    PolicyInfo,
    PolicyProblem,
    PolicyRequest,
    RetainedForbid,
    Role,
    default_context,
    retirement,
)

SHIPPED = Path(__file__).resolve().parent.parent / "policies"
SCHEMA_FILE = SHIPPED / "schema.cedarschema"
DEFAULT_BUNDLE = SHIPPED / "default.cedar"

# Optional resource attributes the schema declares (beyond `owner`); others are ignored.
RESOURCE_ATTRS = ("zone", "data_class")
_ENTITY_CACHE_SIZE = 4096

# One lexer pass finds statements, comments and strings: `;` ends a policy only outside them.
_LEXEME = re.compile(r'//[^\n]*|"(?:[^"\\]|\\.)*(?P<close>"?)|;|\s+|[^"/;\s]+|/', re.S)
_QUOTED = re.compile(r"`([^`]+)`|'([^']+)'|: (\S+)$")
_GENERATED_ID = re.compile(r"policy\d+")
_ID_ANNOTATION = re.compile(r"@id\s*\(")
_OPERATOR_CHARS = "=!<>&|"


@dataclass(frozen=True)
class _Statement:
    """One policy as written: its text and where it starts in its file."""

    source: _SourceFile
    start: int
    text: str
    masked: str  # the text with strings and comments blanked, for searching code only
    unterminated: int | None  # offset of an unclosed string, if any

    @property
    def comment(self) -> str:
        """The `//` lines directly above the policy, joined; a blank line ends the block."""
        lines = self.source.text[: self.start].split("\n")[:-1]
        block: list[str] = []
        for line in reversed(lines):
            stripped = line.strip()
            if not stripped.startswith("//"):
                break
            block.append(stripped.lstrip("/").strip())
        return " ".join(reversed(block))

    def problem(self, offset: int, message: str) -> PolicyProblem:
        line, column = self.source.position(self.start + offset)
        return PolicyProblem(file=self.source.name, line=line, column=column, message=message)


@dataclass(frozen=True)
class _SourceFile:
    name: str
    text: str

    @cached_property
    def _line_starts(self) -> list[int]:
        return [0] + [m.end() for m in re.finditer("\n", self.text)]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        line = bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    @cached_property
    def statements(self) -> list[_Statement]:
        out: list[_Statement] = []
        start: int | None = None
        masked: list[str] = []
        unterminated: int | None = None
        for m in _LEXEME.finditer(self.text):
            lexeme = m.group()
            if lexeme.isspace() or lexeme.startswith("//"):
                if start is not None:
                    masked.append(re.sub(r"\S", " ", lexeme))
                continue
            if start is None:
                start, masked, unterminated = m.start(), [], None
            if lexeme.startswith('"'):
                closed = bool(m.group("close"))
                if not closed and unterminated is None:
                    unterminated = m.start() - start
                lexeme = '"' + " " * (len(lexeme) - 2) + '"' if closed else " " * len(lexeme)
            masked.append(lexeme)
            if lexeme == ";":
                out.append(self._statement(start, m.end(), "".join(masked), unterminated))
                start = None
        if start is not None:
            out.append(self._statement(start, len(self.text), "".join(masked).rstrip(), unterminated))
        return out

    def _statement(self, start: int, end: int, masked: str, unterminated: int | None) -> _Statement:
        text = self.text[start:end].rstrip()
        return _Statement(self, start, text, masked[: len(text)], unterminated)


@dataclass(frozen=True)
class _Bundle:
    """The compiled policies with the bookkeeping a decision and the doc generator need."""

    policy_set: cedarpy.PolicySet
    infos: list[PolicyInfo]
    ids: dict[str, str]  # Cedar's positional id -> the @id (or the positional id if none)
    order: dict[str, int]
    text: str = ""  # every effective statement, for the bundle's hash
    pending: list[PendingPermit] = field(default_factory=list)
    broad: list[str] = field(default_factory=list)
    forbids: list[RetainedForbid] = field(default_factory=list)  # the project forbids in the files now
    retained: list[RetainedForbid] = field(default_factory=list)  # removed from the files, still in force


_PERMIT = re.compile(r"^\s*(?:@\w+\s*\([^)]*\)\s*)*permit\b")
_FORBID = re.compile(r"^\s*(?:@\w+\s*\([^)]*\)\s*)*forbid\b")
_ID_OF = re.compile(r'@id\s*\(\s*"([^"]+)"\s*\)')
_OPEN_SCOPE = re.compile(r"permit\s*\(\s*principal\s*,\s*action\s*,\s*resource\s*\)")
_POWERFUL = re.compile(r'Action::"(admin|credentials|release|user\.manage|policy\.[a-z]+|token\.create)"')


def statement_hash(text: str) -> str:
    """What an approval names: the permit's text, whitespace-normalised."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def _broadness(stmt: _Statement) -> str | None:
    """Why a project permit widens access more than a reviewer should wave through, if it does."""
    code = stmt.masked
    if _OPEN_SCOPE.search(code):
        return "its scope constrains no principal, action or resource"
    if _POWERFUL.search(stmt.text):
        return "it grants admin, credential or release actions"
    if not re.search(r"\b(when|unless)\b", code):
        return "it has no `when`/`unless` condition"
    return None


class CedarPolicyEngine:
    """Decides requests with Cedar against the shipped bundle plus the project's policies.

    engine = CedarPolicyEngine.load([Path("policies")])   # ConfigError names file:line:col
    engine.decide(request).allowed
    """

    def __init__(self, bundle: _Bundle, schema: cedarpy.Schema, project_paths: list[Path]) -> None:
        self._bundle = bundle
        self.bundle_hash = hashlib.sha256(bundle.text.encode()).hexdigest()
        self.pending = list(bundle.pending)  # project permits that wait for two approvals
        self.forbids = list(bundle.forbids)
        self.retained = list(bundle.retained)  # project forbids removed from the files, still enforced
        self.broad = list(bundle.broad)
        self._schema = schema
        self._paths = list(project_paths)
        self._roles_json = json.dumps(_role_entities())[1:-1]
        self._entities = lru_cache(maxsize=_ENTITY_CACHE_SIZE)(self._build_entities)

    # -- loading -----------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        project_paths: Iterable[Path],
        approved: Collection[str] | None = None,
        known: Iterable[RetainedForbid] = (),
    ) -> CedarPolicyEngine:
        """Read, validate and parse everything once; `ConfigError` points at file:line:col.

        With `approved` (statement hashes), a project permit takes effect only once approved;
        restrictions (forbids) always do, and a `known` forbid missing from the files stays in
        force until its removal is approved. None trusts every file, for checking offline.
        """
        paths = [Path(p) for p in project_paths]
        schema, bundle, problems = _compile(paths, approved, list(known))
        if problems or schema is None or bundle is None:
            listing = "\n".join(f"  {p}" for p in problems)
            count = f"{len(problems)} problem{'s' * (len(problems) != 1)}"
            raise ConfigError(
                f"invalid policies ({count}):\n{listing}",
                hint="Fix the spots above; `leanops policy check` re-checks them.",
                problems=[p.model_dump() for p in problems],
            )
        return cls(bundle, schema, paths)

    @staticmethod
    def check_paths(project_paths: Iterable[Path]) -> list[PolicyProblem]:
        """Every problem in the shipped bundle plus these project paths; [] when all is valid."""
        return _compile([Path(p) for p in project_paths])[2]

    def check(self) -> list[PolicyProblem]:
        """Re-check this engine's policy files as they are on disk now; [] when all is valid."""
        return self.check_paths(self._paths)

    def policies(self) -> list[PolicyInfo]:
        """The active policies in file order, for documentation and explanations."""
        return list(self._bundle.infos)

    # -- deciding ----------------------------------------------------------------------

    def decide(self, request: PolicyRequest) -> PolicyDecision:
        """Allow or deny one request; the ids are the policies that decided it."""
        resource = request.resource
        if request.action not in ACTIONS:
            return _refuse(f"unknown action {request.action!r}")
        if resource.type not in RESOURCE_TYPES:
            return _refuse(f"unknown resource type {resource.type!r}")
        attrs = tuple((k, resource.attrs[k]) for k in RESOURCE_ATTRS if k in resource.attrs)
        for key, value in attrs:
            if not isinstance(value, str):
                return _refuse(f"resource attribute {key!r} must be a string, not {type(value).__name__}")
        try:
            entities = self._entities(
                request.principal,
                tuple(request.roles),
                resource.type,
                resource.id,
                resource.owner,
                attrs,
            )
        except ValueError as exc:
            return _refuse(str(exc))
        result = cedarpy.is_authorized(
            {
                "principal": {"type": "User", "id": request.principal},
                "action": {"type": "Action", "id": request.action},
                "resource": {"type": resource.type, "id": resource.id},
                "context": default_context(request.zone, request.context),
            },
            self._bundle.policy_set,
            entities,
            self._schema,
        )
        diagnostics = result.diagnostics
        reasons = diagnostics.reasons
        if len(reasons) > 1:  # Cedar returns a set; report in file order so output is stable
            reasons = sorted(reasons, key=self._bundle.order.__getitem__)
        ids = self._bundle.ids
        return PolicyDecision(allowed=result.allowed, policy_ids=[ids[r] for r in reasons], errors=diagnostics.errors)

    def _build_entities(
        self,
        principal: str,
        roles: tuple[Role, ...],
        rtype: str,
        rid: str,
        owner: str,
        attrs: tuple[tuple[str, str], ...],
    ) -> cedarpy.Entities:
        """The request's entity set; cached because users touch the same things again and again."""
        user = {
            "uid": {"type": "User", "id": principal},
            "attrs": {"name": principal, "owner": principal},
            "parents": [{"type": "Role", "id": str(r)} for r in roles],
        }
        items: list[dict[str, Any]] = [user]
        if rtype == "User":
            # A user owns itself; the principal acting on itself is one entity, not two.
            if rid != principal:
                items.append(
                    {
                        "uid": {"type": "User", "id": rid},
                        "attrs": {"name": rid, "owner": owner or rid},
                        "parents": [],
                    }
                )
        else:
            items.append(
                {
                    "uid": {"type": rtype, "id": rid},
                    "attrs": {"owner": owner, **dict(attrs)},
                    "parents": [],
                }
            )
        text = "[" + self._roles_json + "," + json.dumps(items)[1:-1] + "]"
        return cedarpy.Entities.from_json_str(text, self._schema)


def _refuse(error: str) -> PolicyDecision:
    return PolicyDecision(allowed=False, errors=[error])


def _role_entities() -> list[dict[str, Any]]:
    """Role entities whose parents encode the nesting viewer < developer < approver < admin."""
    return [
        {
            "uid": {"type": "Role", "id": str(role)},
            "attrs": {},
            "parents": [{"type": "Role", "id": str(parent)}] if parent else [],
        }
        for role, parent in ROLE_PARENTS.items()
    ]


# -- compiling -------------------------------------------------------------------------


def _display_name(path: Path) -> str:
    return str(path.relative_to(SHIPPED.parent.parent)) if path.is_relative_to(SHIPPED) else str(path)


def _project_files(paths: list[Path]) -> list[Path]:
    """Every *.cedar under the given folders (or the files themselves); missing ones add none."""
    seen = {DEFAULT_BUNDLE.resolve()}
    out: list[Path] = []
    for path in paths:
        found = sorted(path.rglob("*.cedar")) if path.is_dir() else [path] if path.is_file() else []
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                out.append(file)
    return out


def _read(path: Path) -> _SourceFile | PolicyProblem:
    name = _display_name(path)
    try:
        return _SourceFile(name, path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return PolicyProblem(file=name, line=1, column=1, message=f"cannot read: {exc}")


def _compile(
    project_paths: list[Path],
    approved: Collection[str] | None = None,
    known: list[RetainedForbid] = (),  # type: ignore[assignment]
) -> tuple[cedarpy.Schema | None, _Bundle | None, list[PolicyProblem]]:
    """Schema, bundle and problems; the bundle only when there are no problems.

    Pending permits are left out of the bundle but still checked, so a broken one is reported.
    """
    if approved is not None:
        schema, _, problems = _compile(project_paths, None)
        if problems:
            return schema, None, problems
    try:
        schema = cedarpy.Schema.from_str(SCHEMA_FILE.read_text(encoding="utf-8"))
    except ValueError as exc:
        return (
            None,
            None,
            [PolicyProblem(file=_display_name(SCHEMA_FILE), line=1, column=1, message=str(exc))],
        )

    problems: list[PolicyProblem] = []
    statements: list[_Statement] = []
    pending: list[PendingPermit] = []
    broad: list[str] = []
    forbids: list[RetainedForbid] = []
    for path in [DEFAULT_BUNDLE, *_project_files(project_paths)]:
        source = _read(path)
        if isinstance(source, PolicyProblem):
            problems.append(source)
            continue
        try:
            cedarpy.PolicySet.from_str(source.text)
        except ValueError as exc:
            problems += _parse_problems(source, str(exc))
            continue
        for stmt in source.statements:
            if path != DEFAULT_BUNDLE and _PERMIT.match(stmt.masked):
                line, _ = source.position(stmt.start)
                found = _ID_OF.search(stmt.text)
                if (why := _broadness(stmt)) is not None:
                    broad.append(f"{source.name}:{line}: this permit widens access broadly: {why}")
                digest = statement_hash(stmt.text)
                if approved is not None and digest not in approved:
                    pending.append(
                        PendingPermit(
                            id=found.group(1) if found else f"{source.name}:{line}",
                            file=source.name,
                            line=line,
                            hash=digest,
                            text=stmt.text,
                        )
                    )
                    continue
            if path != DEFAULT_BUNDLE and _FORBID.match(stmt.masked):
                found = _ID_OF.search(stmt.text)
                line, _ = source.position(stmt.start)
                name = found.group(1) if found else f"{source.name}:{line}"
                forbids.append(
                    RetainedForbid(id=name, file=source.name, hash=statement_hash(stmt.text), text=stmt.text)
                )
            statements.append(stmt)
    if problems:
        return schema, None, problems
    present = {f.hash for f in forbids}
    retained = [k for k in known if k.hash not in present and retirement(k.hash) not in (approved or ())]
    used = {m.group(1) for stmt in statements if (m := _ID_OF.search(stmt.text))}
    for k in retained:  # a removed restriction is still one until two people agree it goes
        text = k.text
        if k.id in used:  # edited in place: the old text keeps its name, marked as the removed version
            text = _ID_OF.sub(lambda m: f'@id("{m.group(1)} (removed version)")', text, count=1)
        statements += _SourceFile(f"retained:{k.file}", text).statements

    combined = "\n".join(s.text for s in statements)
    parsed = json.loads(cedarpy.policies_to_json_str(combined))
    policies = parsed["staticPolicies"] | parsed["templates"]
    if len(policies) != len(statements):  # the splitter and Cedar disagree: report, never guess
        where = statements[0].source.name if statements else _display_name(DEFAULT_BUNDLE)
        lost = PolicyProblem(file=where, line=1, column=1, message="cannot map policies to lines")
        return schema, None, [lost]

    infos, ids, problems = _describe(statements, policies)
    problems += _validation_problems(cedarpy.validate_policies(combined, schema), statements, ids)
    if problems:
        files = {name: i for i, name in enumerate(dict.fromkeys(s.source.name for s in statements))}
        return schema, None, sorted(problems, key=lambda p: (files[p.file], p.line, p.column))

    order = {k: i for i, k in enumerate(ids)}
    bundle = _Bundle(
        cedarpy.PolicySet.from_str(combined), infos, ids, order, combined, pending, broad, forbids, retained
    )
    return schema, bundle, []


def _describe(
    statements: list[_Statement], policies: dict[str, Any]
) -> tuple[list[PolicyInfo], dict[str, str], list[PolicyProblem]]:
    """Each policy's id (its @id, else Cedar's positional id), effect and comment; @id clashes."""
    infos: list[PolicyInfo] = []
    ids: dict[str, str] = {}
    problems: list[PolicyProblem] = []
    first_with_id: dict[str, _Statement] = {}
    for index, stmt in enumerate(statements):
        cedar_id = f"policy{index}"
        policy = policies[cedar_id]
        given = policy.get("annotations", {}).get("id") or ""
        if given in first_with_id:
            other = first_with_id[given]
            line, column = other.source.position(other.start)
            at = m.start() if (m := _ID_ANNOTATION.search(stmt.masked)) else 0
            problems.append(
                stmt.problem(
                    at,
                    f'policy id "{given}" is already used at {other.source.name}:{line}:{column}',
                )
            )
        elif given:
            first_with_id[given] = stmt
        ids[cedar_id] = given or cedar_id
        line, _ = stmt.source.position(stmt.start)
        infos.append(
            PolicyInfo(
                id=ids[cedar_id],
                effect=policy["effect"],
                file=stmt.source.name,
                line=line,
                source=stmt.text,
                comment=stmt.comment,
            )
        )
    return infos, ids, problems


def _validation_problems(
    result: cedarpy.ValidationResult, statements: list[_Statement], ids: dict[str, str]
) -> list[PolicyProblem]:
    """Schema errors at their spot; one error repeated per entity type is reported once."""
    grouped: dict[tuple[int, str], list[str]] = {}
    for error in result.errors:
        index = int(error.policy_id.removeprefix("policy")) if _GENERATED_ID.fullmatch(error.policy_id) else 0
        reason = re.sub(r"^for policy `[^`]+`, ", "", error.error)
        types = re.findall(r" on entity type `([^`]+)`", reason)
        reason = re.sub(r" on entity type `[^`]+`", "", reason)
        grouped.setdefault((index, reason), []).extend(types)
    problems = []
    for (index, reason), types in sorted(grouped.items()):
        stmt, cedar_id = statements[index], f"policy{index}"
        where = f'in policy "{ids[cedar_id]}": ' if ids[cedar_id] != cedar_id else ""
        on = f" (entity types: {', '.join(sorted(set(types)))})" if types else ""
        problems.append(stmt.problem(_spot(stmt, reason), f"{where}{reason}{on}"))
    return problems


def _parse_problems(source: _SourceFile, message: str) -> list[PolicyProblem]:
    """One problem per policy that fails to parse on its own, at the token its error names."""
    problems = []
    for stmt in source.statements:
        try:
            cedarpy.PolicySet.from_str(stmt.text)
        except ValueError as exc:
            reason = str(exc)
            if reason == "invalid token" and stmt.unterminated is not None:
                reason += " (a string is not closed)"
            problems.append(stmt.problem(_spot(stmt, str(exc), reparse=True), reason))
    return problems or [PolicyProblem(file=source.name, line=1, column=1, message=message)]


def _parse_error(text: str) -> str | None:
    try:
        cedarpy.PolicySet.from_str(text)
    except ValueError as exc:
        return str(exc)
    return None


def _spot(stmt: _Statement, message: str, *, reparse: bool = False) -> int:
    """Offset in the policy of the token an error message names; the policy's start if none.

    With `reparse`, among several occurrences of the token the first one whose prefix
    reproduces the error wins: Cedar's parser fails at the earliest token that cannot follow.
    """
    if message == "unexpected end of input":
        return len(stmt.text)
    if message == "invalid token" and stmt.unterminated is not None:
        return stmt.unterminated
    for match in _QUOTED.finditer(message):
        snippet = next(g for g in match.groups() if g)
        if _GENERATED_ID.fullmatch(snippet):
            continue
        hits = _occurrences(stmt.masked, snippet) or _occurrences(stmt.text, snippet)
        if not hits:
            continue
        if reparse:
            for hit in hits:
                if _parse_error(stmt.text[: hit + len(snippet)]) == message:
                    return hit
        return hits[0]
    return 0


def _occurrences(text: str, snippet: str) -> list[int]:
    """Where `snippet` stands as a whole token (so `=` does not match inside `==`)."""

    def edge(ch: str) -> str:
        if ch.isalnum() or ch == "_":
            return r"\w"
        return re.escape(_OPERATOR_CHARS) if ch in _OPERATOR_CHARS else ""

    left, right = edge(snippet[0]), edge(snippet[-1])
    pattern = (f"(?<![{left}])" if left else "") + re.escape(snippet) + (f"(?![{right}])" if right else "")
    return [m.start() for m in re.finditer(pattern, text)]
