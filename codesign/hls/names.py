"""Model module paths (`blocks.3.attn.qkv`) as valid, unique C++ identifiers.
Other characters become `_`; keywords, reserved spellings and collisions are made safe."""
from __future__ import annotations

import re

# C++17 keywords and alternative tokens, plus names the generated code itself uses.
CPP_KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t
class compl concept const consteval constexpr constinit const_cast continue co_await co_return
co_yield decltype default delete do double dynamic_cast else enum explicit export extern false float
for friend goto if inline int long mutable namespace new noexcept not not_eq nullptr operator or or_eq
private protected public register reinterpret_cast requires return short signed sizeof static
static_assert static_cast struct switch template this thread_local throw true try typedef typeid
typename union unsigned using virtual void volatile wchar_t while xor xor_eq
main std cs hls NULL
""".split())

_BAD = re.compile(r"[^0-9A-Za-z_]+")


def cpp_identifier(name: str) -> str:
    """One name as an identifier: `blocks.3.attn.qkv` -> `blocks_3_attn_qkv`.

    Runs of other characters become one `_`; leading/trailing `_` are dropped (a leading `_`
    plus capital, and `__` anywhere, are reserved in C++); a leading digit or a keyword gets `op_`.
    """
    ident = re.sub(r"_+", "_", _BAD.sub("_", str(name))).strip("_")
    if not ident:
        return "op"
    if ident[0].isdigit() or ident in CPP_KEYWORDS:
        ident = "op_" + ident
    return ident


def unique_identifiers(names) -> dict[str, str]:
    """{name: identifier} with identifiers unique even ignoring case (they also name files)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        if name in out:
            continue
        base = cpp_identifier(name)
        ident, suffix = base, 2
        while ident.lower() in taken:
            ident, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(ident.lower())
        out[name] = ident
    return out
