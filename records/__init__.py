"""The results schema, its store and the measuring machine's identity: the one interface between measuring and
reporting. A leaf package: dynabert, bench, devices and recipes import it; it imports none of them (nor torch).

- `records.schema`: Record = Key (which cell) + Measurement (what was measured) + Provenance (how, where).
- `records.store`: the JSON-lines store (`Store.open(path)`: append, done(key), read) and output-path checks.
- `records.machine`: this machine's identity and fingerprint; `records.provenance`: a run's provenance, once.
"""

from records.schema import (
    FIELD_NAMES,
    Key,
    Measurement,
    Provenance,
    Record,
    cost_fields,
    normal_key,
)
from records.store import (
    Store,
    append,
    check_not_a_store,
    check_out_dir,
    check_readable,
    check_writable,
    portable_path,
    read,
)

__all__ = [
    "FIELD_NAMES",
    "Key",
    "Measurement",
    "Provenance",
    "Record",
    "Store",
    "append",
    "check_not_a_store",
    "check_out_dir",
    "check_readable",
    "check_writable",
    "cost_fields",
    "normal_key",
    "portable_path",
    "read",
]
