"""Reading the root Dockerfile: its stages and instructions, as the tests
need them (the final stage's USER, ENV, ENTRYPOINT and CMD; what each stage
runs). Not a full Dockerfile parser: continuation lines, comments, JSON and
shell forms, ARG defaults in FROM, and key=value ENV are enough here, and
anything else it meets is kept as raw text for the checks to look at.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Instruction:
    keyword: str  # upper case
    text: str  # everything after the keyword, continuation lines joined

    def exec_form(self) -> list[str] | None:
        """The JSON (exec) form's argv, or None for the shell form."""
        try:
            value = json.loads(self.text)
        except ValueError:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        return None


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        """ENV key=value pairs in order ($VAR references to earlier ones expanded)."""
        values: dict[str, str] = {}
        for inst in self.all("ENV"):
            for token in shlex.split(inst.text):
                key, sep, value = token.partition("=")
                assert sep, f"ENV {inst.text!r}: only the key=value form is supported"
                values[key] = re.sub(
                    r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), m.group(0)), value
                )
        return values


@dataclass
class Dockerfile:
    args: dict[str, str]  # ARGs before the first FROM, with their defaults
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def entrypoint(self) -> list[str]:
        inst = self.final.last("ENTRYPOINT")
        assert inst is not None, "the final stage has no ENTRYPOINT"
        argv = inst.exec_form()
        assert argv, f"ENTRYPOINT is not in exec (JSON) form: {inst.text}"
        return argv

    def cmd(self) -> list[str]:
        inst = self.final.last("CMD")
        if inst is None:
            return []
        argv = inst.exec_form()
        assert argv is not None, f"CMD is not in exec (JSON) form: {inst.text}"
        return argv


def logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue  # comments (and parser directives) inside continuations too
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            lines.append(current.strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def parse(path: Path = DOCKERFILE) -> Dockerfile:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), ""), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=name))
        elif not stages and keyword == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append(Instruction(keyword, rest))
    return Dockerfile(args=args, stages=stages)
