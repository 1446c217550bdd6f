"""Datasets: versioned, validated, classified snapshots of CSV, Parquet and folders of files.

    snap = ws.datasets.register("data/customers.csv", name="customers", contract="customers.yaml")
    df = ws.datasets.load("customers@v1")

`snapshot` holds the model and its naming rules, `files` turns a path into a content hash and
a table, `contract` checks a table against a YAML data contract, `profile` computes the
statistics drift monitoring compares against (`leanops.datasets.profile.profile(df)`; not
re-exported here, where it would hide its module), and `service` wires them through the guard.
"""

from leanops.datasets.contract import (
    ColumnSpec,
    DataContract,
    RowBounds,
    Violation,
    check_frame,
    load_contract,
)
from leanops.datasets.files import manifest_bytes, read_table, scan
from leanops.datasets.profile import ColumnProfile, DatasetProfile, ProfileDiff, diff_profiles
from leanops.datasets.service import (
    DatasetDiff,
    DatasetRepo,
    DatasetService,
    diff_snapshots,
    find_snapshot,
)
from leanops.datasets.snapshot import (
    DataClass,
    FileEntry,
    Snapshot,
    check_name,
    parse_data_class,
    source_allowed,
)

__all__ = [
    "ColumnProfile",
    "ColumnSpec",
    "DataClass",
    "DataContract",
    "DatasetDiff",
    "DatasetProfile",
    "DatasetRepo",
    "DatasetService",
    "FileEntry",
    "ProfileDiff",
    "RowBounds",
    "Snapshot",
    "Violation",
    "check_frame",
    "check_name",
    "diff_profiles",
    "diff_snapshots",
    "find_snapshot",
    "load_contract",
    "manifest_bytes",
    "parse_data_class",
    "read_table",
    "scan",
    "source_allowed",
]
