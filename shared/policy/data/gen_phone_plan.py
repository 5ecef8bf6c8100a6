#!/usr/bin/env python3
"""Generates shared/policy/src/phone_plan.rs: the numbering plan `PhoneNumber::parse`
checks numbers against, compiled into the binary so that nothing is built on first use.

The source is the `PhoneNumberMetadata.xml` shipped inside the `phonenumber` crate at the
version Cargo.lock pins (the crate is a dev-dependency of policy, so cargo has its
source). Production used that crate before this table replaced it: the XML is the data
it read, and its reading of it (mirrored by shared/policy/src/numbering.rs) is the
behaviour to keep; shared/policy/tests/phone_plan.rs compares the two on tens of
thousands of numbers. The `phonenumbers` PyPI package is not used: its metadata is
post-processed (general descriptions get computed lengths) and the version pinned for
gen_area_codes.py (9.0.19) is older than the crate's (9.0.33); either would change
which numbers are accepted.

    python3 shared/policy/data/gen_phone_plan.py \\
        ~/.cargo/registry/src/*/phonenumber-0.3.10+9.0.33/assets/PhoneNumberMetadata.xml \\
        > shared/policy/src/phone_plan.rs

Standard library only. Reproducible: the output depends only on the XML.

libphonenumber's patterns are regular expressions; they are compiled here into a small
program (see `run` in shared/policy/src/numbering.rs for the instruction set) that a backtracking matcher
runs without a regex engine. Only the subset the data uses is accepted: digits, `\\d`,
digit classes, groups (capturing or `(?:`), `|`, the greedy quantifiers `?`, `{n}` and
`{n,m}`, and `$` at the end of the input. Anything else makes the script fail, so a new
metadata version that needs more cannot be compiled wrongly in silence.
"""
import hashlib
import re
import sys
import xml.etree.ElementTree as ET

# The descriptions the crate's `number_type` tries: a number whose national part matches
# the general description and at least one of these is valid.
TYPES = [
    "premiumRate", "tollFree", "sharedCost", "voip", "personalNumber", "pager", "uan",
    "voicemail", "fixedLine", "mobile",
]

# Instruction words (u16): the top 4 bits are the opcode (see `run` in numbering.rs).
CLASS, REPEAT, SPLIT, JUMP, SAVE, END, MATCH, SPLIT_LONG, JUMP_LONG = (x << 12 for x in range(9))
ANY_DIGIT = 0x3FF
# Capturing groups a prefix-parsing pattern may have (the matcher's slot array).
MAX_GROUPS = 2
# `{n,m}` bounds are stored in 8 bits.
REPEAT_LIMIT = 0xFF


class PatternError(Exception):
    pass


class Parser:
    """Recursive descent over the supported subset, to a small tree:
    ("class", set) | ("end",) | ("cat", [nodes]) | ("alt", [nodes])
    | ("group", index or None, node) | ("repeat", node, min, max)."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.groups = 0

    def fail(self, why: str):
        raise PatternError(f"{why} at {self.pos} in {self.text!r}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self, expected: str = "") -> str:
        ch = self.peek()
        if not ch or (expected and ch != expected):
            self.fail(f"expected {expected or 'a character'}")
        self.pos += 1
        return ch

    def parse(self):
        node = self.alternation()
        if self.pos != len(self.text):
            self.fail("unexpected character")
        return node

    def alternation(self):
        branches = [self.concatenation()]
        while self.peek() == "|":
            self.take("|")
            branches.append(self.concatenation())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def concatenation(self):
        items = []
        while self.peek() not in ("", "|", ")"):
            items.append(self.quantified(self.atom()))
        return ("cat", items)

    def atom(self):
        ch = self.take()
        if ch.isdigit():
            return ("class", 1 << int(ch))
        if ch == "\\":
            self.take("d")
            return ("class", ANY_DIGIT)
        if ch == "[":
            return ("class", self.digit_class())
        if ch == "$":
            return ("end",)
        if ch == "(":
            index = None
            if self.peek() == "?":
                self.take("?")
                self.take(":")
            else:
                self.groups += 1
                index = self.groups
            inner = self.alternation()
            self.take(")")
            return ("group", index, inner)
        self.fail(f"unsupported {ch!r}")

    def digit_class(self) -> int:
        bits = 0
        if self.peek() == "^":
            self.fail("negated class")
        while self.peek() != "]":
            ch = self.take()
            if ch == "\\":
                self.take("d")
                bits |= ANY_DIGIT
            elif ch.isdigit():
                low = high = int(ch)
                if self.peek() == "-":
                    self.take("-")
                    high = int(self.take())
                    if high < low:
                        self.fail("reversed range")
                for digit in range(low, high + 1):
                    bits |= 1 << digit
            else:
                self.fail(f"unsupported {ch!r} in a class")
        self.take("]")
        if not bits:
            self.fail("empty class")
        return bits

    def quantified(self, node):
        ch = self.peek()
        if ch == "?":
            self.take("?")
            low, high = 0, 1
        elif ch == "{":
            self.take("{")
            low = high = self.number()
            if self.peek() == ",":
                self.take(",")
                high = self.number()
            self.take("}")
            if high < low or high >= REPEAT_LIMIT:
                self.fail("bad repetition")
        else:
            return node
        if self.peek() in ("?", "+", "*", "{"):
            self.fail("lazy, possessive or stacked quantifier")
        if node == ("end",):
            self.fail("quantified $")
        return ("repeat", node, low, high)

    def number(self) -> int:
        start = self.pos
        while self.peek().isdigit():
            self.pos += 1
        if start == self.pos:
            self.fail("expected a number")
        return int(self.text[start:self.pos])


def branch_jump(opcode: int, long_opcode: int, distance: int) -> list[int]:
    """A forward jump over `distance` words, counted from the end of the instruction:
    one word when it fits 12 bits, else an opcode word and a distance word."""
    if distance < 0x1000:
        return [opcode | distance]
    if distance > 0xFFFF:
        raise PatternError("program too long")
    return [long_opcode, distance]


def split(distance: int) -> list[int]:
    return branch_jump(SPLIT, SPLIT_LONG, distance)


def jump(distance: int) -> list[int]:
    return branch_jump(JUMP, JUMP_LONG, distance)


def compile_node(node) -> list[int]:
    """Tree -> instruction words. Jumps are relative, so a subtree's words do not depend
    on where they end up."""
    kind = node[0]
    if kind == "class":
        return [CLASS | node[1]]
    if kind == "end":
        return [END]
    if kind == "cat":
        return [word for item in node[1] for word in compile_node(item)]
    if kind == "alt":
        # Built from the last branch back, so every jump knows how far it goes.
        tail = compile_node(node[1][-1])
        for branch in reversed(node[1][:-1]):
            body = compile_node(branch) + jump(len(tail))
            tail = split(len(body)) + body + tail
        return tail
    if kind == "group":
        _, index, inner = node
        words = compile_node(inner)
        if index is None:
            return words
        return [SAVE | (2 * index)] + words + [SAVE | (2 * index + 1)]
    _, inner, low, high = node
    # One digit class repeated is one instruction: the common `\d{7}` stays small.
    if inner[0] == "class":
        return [REPEAT | inner[1], low | (high << 8)]
    once = compile_node(inner)
    # Greedy x{0,k} is x(x(...)?)?: every optional copy prefers to match.
    tail: list[int] = []
    for _ in range(high - low):
        body = once + tail
        tail = split(len(body)) + body
    return once * low + tail


def compile_pattern(text: str) -> tuple[list[int], int]:
    """(program, number of capturing groups). Whitespace is dropped, as the crate builds
    its regexes with `ignore_whitespace`."""
    text = re.sub(r"\s", "", text)
    parser = Parser(text)
    tree = parser.parse()
    return compile_node(tree) + [MATCH], parser.groups


def lengths(value: str | None) -> list[int]:
    """The crate's reading of `possibleLengths`: "[4-6],8" -> [4, 5, 6, 8]."""
    if value is None:
        return []
    result = []
    for part in (p.strip() for p in value.split(",")):
        if part.startswith("["):
            low, high = part[1:-1].split("-")
            result.extend(range(int(low), int(high) + 1))
        else:
            result.append(int(part))
    return result


def mask(values: list[int]) -> int:
    bits = 0
    for value in values:
        if not 0 < value < 32:
            raise PatternError(f"length {value} does not fit the mask")
        bits |= 1 << value
    return bits


def transform_rule(rule: str | None) -> tuple[str, int] | None:
    """`nationalPrefixTransformRule` as (literal digits, group), the only form the data
    uses: digits then one `$n` at the end, which the regex crate's replacement reads as
    that group."""
    if rule is None:
        return None
    found = re.fullmatch(r"(\d*)\$(\d)", rule)
    if not found:
        raise PatternError(f"unsupported transform rule {rule!r}")
    return found.group(1), int(found.group(2))


def captured_together(text: str, groups: int) -> bool:
    """Whether capturing groups 1..groups are items of one concatenation, so that they
    take part in a match together. When it rewrites with the last group, the crate also
    reads group 1 and panics if that one has not taken part; the Rust side can then
    ignore group 1."""
    if groups <= 1:
        return True
    wanted = set(range(1, groups + 1))

    def walk(node) -> bool:
        kind = node[0]
        if kind == "cat":
            direct = {item[1] for item in node[1] if item[0] == "group"}
            return wanted <= direct or any(walk(item) for item in node[1])
        if kind == "alt":
            return any(walk(branch) for branch in node[1])
        if kind == "group":
            return walk(node[2])
        if kind == "repeat":
            return walk(node[1])
        return False

    return walk(Parser(re.sub(r"\s", "", text)).parse())


class Plan:
    """The tables being built. They hold offsets and indexes, not references, so the
    binary needs no load-time relocation for them."""

    def __init__(self):
        self.words: list[int] = []
        self.seen: dict[tuple, int] = {}
        self.descs: list[str] = []
        self.strings: list[str] = []

    def string(self, value: str) -> int:
        if value not in self.strings:
            if len(self.strings) > 0xFF:
                raise PatternError("too many digit strings for u8 indexes")
            self.strings.append(value)
        return self.strings.index(value)

    def program(self, text: str, max_groups: int = 0) -> tuple[int, int]:
        words, groups = compile_pattern(text)
        if groups > max_groups:
            raise PatternError(f"{groups} capturing groups in {text!r}")
        key = tuple(words)
        if key not in self.seen:
            if len(self.words) > 0xFFFF:
                raise PatternError("programs do not fit u16 offsets")
            self.seen[key] = len(self.words)
            self.words.extend(words)
        return self.seen[key], groups


def description(plan: Plan, element):
    pattern = element.find("nationalNumberPattern")
    if pattern is None:
        raise PatternError(f"{element.tag} has no nationalNumberPattern")
    lengths_element = element.find("possibleLengths")
    national = lengths_element.get("national") if lengths_element is not None else None
    start, _ = plan.program(pattern.text)
    plan.descs.append(f"Desc {{ lengths: {mask(lengths(national)):#x}, program: {start} }}")


def territory(plan: Plan, element) -> tuple[int, bool, str]:
    attrs = element.attrib
    code = int(attrs["countryCode"])
    general = element.find("generalDesc")
    if general is None or general.find("possibleLengths") is not None:
        # Without lengths the crate's general description matches on its pattern alone
        # and its "too short after removing the national prefix" test never fires; the
        # Rust side relies on both.
        raise PatternError(f"{attrs['id']}: generalDesc missing or with possibleLengths")
    general_program, _ = plan.program(general.find("nationalNumberPattern").text)
    leading = attrs.get("leadingDigits")
    leading_program = f"Some({plan.program(leading)[0]})" if leading else "None"
    parsing = attrs.get("nationalPrefixForParsing")
    transform = transform_rule(attrs.get("nationalPrefixTransformRule"))
    if parsing:
        start, groups = plan.program(parsing, max_groups=MAX_GROUPS)
        if transform and not 1 <= transform[1] <= groups:
            raise PatternError(f"{attrs['id']}: transform names a missing group")
        if transform and not captured_together(parsing, groups):
            raise PatternError(f"{attrs['id']}: capturing groups that can match apart")
        prefix_parsing = f"Some(PrefixParsing {{ program: {start}, groups: {groups}, "
        prefix_parsing += f"transform: {rust_transform(plan, transform)} }})"
    elif transform:
        raise PatternError(f"{attrs['id']}: transform rule without a parsing pattern")
    else:
        prefix_parsing = "None"
    prefix = attrs.get("nationalPrefix")
    if prefix is not None and not prefix.isdigit():
        raise PatternError(f"{attrs['id']}: national prefix {prefix!r}")
    first = len(plan.descs)
    for name in TYPES:
        if element.find(name) is not None:
            description(plan, element.find(name))
    count = len(plan.descs) - first
    national_prefix = f"Some({plan.string(prefix)})" if prefix is not None else "None"
    row = (
        f"    Territory {{ code: {code}, general: {general_program}, "
        f"types: ({first}, {count}), leading_digits: {leading_program}, "
        f"national_prefix: {national_prefix}, prefix_parsing: {prefix_parsing} }}, "
        f"// {attrs['id']}\n"
    )
    return code, attrs.get("mainCountryForCode") == "true", row


def rust_transform(plan: Plan, transform: tuple[str, int] | None) -> str:
    if transform is None:
        return "None"
    return f"Some(({plan.string(transform[0])}, {transform[1]}))"


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: gen_phone_plan.py path/to/PhoneNumberMetadata.xml")
    raw = open(sys.argv[1], "rb").read()
    root = ET.fromstring(raw)
    plan = Plan()
    by_code: dict[int, list[str]] = {}
    for element in root.find("territories"):
        code, main_country, row = territory(plan, element)
        rows = by_code.setdefault(code, [])
        # The crate lists a code's main country first, the others in file order.
        if main_country:
            rows.insert(0, row)
        else:
            rows.append(row)
    out = sys.stdout
    out.write("//! Generated by `shared/policy/data/gen_phone_plan.py` from the `phonenumber`\n")
    out.write("//! crate's PhoneNumberMetadata.xml (libphonenumber metadata), sha256\n")
    out.write(f"//! {hashlib.sha256(raw).hexdigest()}.\n")
    out.write("//! Do not edit by hand: change the script or the metadata and run it again.\n\n")
    out.write("use crate::numbering::{Desc, PrefixParsing, Territory};\n\n")
    rows = [row for code in sorted(by_code) for row in by_code[code]]
    out.write("/// Every territory, grouped by country calling code in ascending order; within a\n")
    out.write("/// code, the main country first.\n")
    out.write("#[rustfmt::skip]\n")
    out.write(f"pub(crate) static TERRITORIES: [Territory; {len(rows)}] = [\n")
    out.writelines(rows)
    out.write("];\n\n")
    out.write("/// The number descriptions territories refer to by (first index, count).\n")
    out.write("#[rustfmt::skip]\n")
    out.write(f"pub(crate) static DESCS: [Desc; {len(plan.descs)}] = [\n")
    for start in range(0, len(plan.descs), 4):
        out.write("    " + ", ".join(plan.descs[start:start + 4]) + ",\n")
    out.write("];\n\n")
    out.write("/// National prefixes and transform digits, referred to by index.\n")
    out.write("#[rustfmt::skip]\n")
    out.write(f"pub(crate) static DIGIT_STRINGS: [&str; {len(plan.strings)}] = [\n")
    out.write("    " + ", ".join(f'"{x}"' for x in plan.strings) + ",\n")
    out.write("];\n\n")
    out.write("/// The compiled patterns, one after another; each ends with a match instruction.\n")
    out.write("#[rustfmt::skip]\n")
    out.write(f"pub(crate) static PROGRAMS: [u16; {len(plan.words)}] = [\n")
    for start in range(0, len(plan.words), 20):
        chunk = plan.words[start:start + 20]
        out.write("    " + ",".join(str(w) for w in chunk) + ",\n")
    out.write("];\n")


if __name__ == "__main__":
    try:
        main()
    except PatternError as error:
        sys.exit(f"gen_phone_plan.py: {error}")
