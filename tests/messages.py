"""Messages are tested on what they must name, never on their whole wording.

A bad-input message must name the thing (file, flag, value, sub-network) and the fix; `assert_names` checks exactly
those parts, in any order and any surrounding wording, so rewording a message breaks no test while dropping the
named value or the fix still does.
"""


def assert_names(message: str, *parts: str) -> None:
    """AssertionError listing the `parts` missing from `message` (each compared as an exact substring)."""
    assert parts, "assert_names needs the parts the message must name"
    missing = [p for p in parts if p not in message]
    assert not missing, f"the message does not name {missing}:\n{message}"
