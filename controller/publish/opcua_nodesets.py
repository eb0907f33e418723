"""The OPC UA companion NodeSets (DI, IA, Machinery, ISA95 job control, Machinery/Jobs, ProcessValues, MachineTool):
found in a folder, put in the order their RequiredModel entries demand, imported into an asyncua server.

Each NodeSet that will not load is reported with the reason (a missing folder, a model it requires that is not
there, an import error) and the server goes on with the others; nothing here raises for a missing file.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

_log = logging.getLogger(__name__)
_NS = {"u": "http://opcfoundation.org/UA/2011/03/UANodeSet.xsd"}
BASE_URI = "http://opcfoundation.org/UA/"
DEFAULT_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "standards" / "opcua"
"""Where the NodeSets are in a checkout: ../shared/standards/opcua beside the project."""
PACKAGED_DIR = (Path(__file__).resolve().parents[2] / "scripts" / "opcua-nodesets" / "node_modules"
                / "node-opcua-nodesets" / "nodesets")
"""node-opcua's published NodeSets (npm `node-opcua-nodesets`, installed by `make setup`'s system step): where the
models the first folder lacks are taken from (PADIM and IRDI, which Machinery/ProcessValues requires)."""

WANTED = ("DI", "IA", "Machinery", "ISA95-JOBCONTROL_V2", "Machinery/Jobs", "Machinery/ProcessValues",
          "MachineTool")
"""The models the machines are built on, as the tail of their model URI (http://opcfoundation.org/UA/<tail>/)."""

NO_PYTHON_TYPES = frozenset({"http://opcfoundation.org/UA/Machinery/Jobs/"})
"""Models imported without generating Python classes for their structures: asyncua 2.1 cannot build one for
Machinery/Jobs' OptionSet field (OutputInformationDataType.OutputInfo) and would stop the import half way."""


NOISY_LOGGERS = ("asyncua.common.xmlimporter", "asyncua.common.structures104", "asyncua.common.copy_node_util")
"""asyncua's loggers that speak of every node of the companion models it cannot type exactly (dozens of lines per
start, the same each time); the load report says what matters: which models loaded and which did not."""


@contextmanager
def quiet_asyncua() -> Iterator[None]:
    """Keep asyncua's per-node import chatter out of the log for the duration (fatal errors still show)."""
    loggers = [logging.getLogger(name) for name in NOISY_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@dataclass(frozen=True)
class NodeSetFile:
    """One NodeSet2 file: its model URI and the model URIs it requires (the base namespace left out)."""

    path: Path
    uri: str
    requires: tuple[str, ...]


@dataclass
class LoadReport:
    """What was imported and what was not, with the reason for each model left out."""

    folder: Path
    loaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def has(self, tail: str) -> bool:
        """Was the model http://opcfoundation.org/UA/<tail>/ imported?"""
        return f"{BASE_URI}{tail}/" in self.loaded

    def summary(self) -> str:
        """One line for the log: loaded models, then each missing one and why."""
        short = [u.removeprefix(BASE_URI).rstrip("/") for u in self.loaded]
        text = f"OPC UA NodeSets from {self.folder}: loaded {', '.join(short) or 'none'}"
        for uri, why in self.failed.items():
            text += f"; not loaded {uri.removeprefix(BASE_URI).rstrip('/')}: {why}"
        return text


def read_header(path: Path) -> NodeSetFile | None:
    """The model a NodeSet file defines and what it requires (None if it defines no model)."""
    root = etree.parse(str(path)).getroot()
    model = root.find("u:Models/u:Model", _NS)
    if model is None:
        return None
    requires = tuple(r.get("ModelUri", "") for r in model.findall("u:RequiredModel", _NS)
                     if r.get("ModelUri") != BASE_URI)
    return NodeSetFile(path, model.get("ModelUri", ""), requires)


def find_nodesets(folder: Path) -> dict[str, NodeSetFile]:
    """Every NodeSet2 XML file directly in the folder, by model URI (drafts in subfolders are not taken)."""
    found: dict[str, NodeSetFile] = {}
    for path in sorted(folder.glob("*.xml")):
        try:
            header = read_header(path)
        except etree.XMLSyntaxError as exc:
            _log.warning("OPC UA: %s is not a NodeSet2 file: %s", path, exc)
            continue
        if header is not None:
            found[header.uri] = header
    return found


def load_order(files: dict[str, NodeSetFile], wanted: tuple[str, ...] = WANTED) -> tuple[list[NodeSetFile],
                                                                                          dict[str, str]]:
    """The wanted models, each after those it requires; models that cannot be loaded, with the reason."""
    order: list[NodeSetFile] = []
    failed: dict[str, str] = {}
    state: dict[str, str] = {}

    def visit(uri: str) -> bool:
        if state.get(uri) == "done":
            return True
        if uri in failed:
            return False
        f = files.get(uri)
        if f is None:
            failed[uri] = "no NodeSet file for this model in the folder"
            return False
        if state.get(uri) == "visiting":
            failed[uri] = "its required models require it again (a cycle)"
            return False
        state[uri] = "visiting"
        missing = [r for r in f.requires if not visit(r)]
        if missing:
            failed[uri] = f"requires {', '.join(missing)}, which is not loaded"
            state.pop(uri)
            return False
        state[uri] = "done"
        order.append(f)
        return True

    for tail in wanted:
        visit(f"{BASE_URI}{tail}/")
    return order, failed


async def load_nodesets(server: Any, folder: Path, wanted: tuple[str, ...] = WANTED,
                        fallback: tuple[Path, ...] = ()) -> LoadReport:
    """Import the wanted NodeSets from the folder into an asyncua Server, in dependency order; a model the folder
    does not hold is taken from the first `fallback` folder that does."""
    report = LoadReport(folder)
    if not folder.is_dir():
        for tail in wanted:
            report.failed[f"{BASE_URI}{tail}/"] = (f"NodeSet folder {folder} not found (set [opcua] nodesets to the "
                                                   "folder holding Opc.Ua.Di.NodeSet2.xml and the others)")
        return report
    files: dict[str, NodeSetFile] = {}
    for extra in reversed(fallback):
        if extra.is_dir():
            files.update(find_nodesets(extra))
    files.update(find_nodesets(folder))
    order, failed = load_order(files, wanted)
    report.failed.update(failed)
    for f in order:
        if any(r in report.failed for r in f.requires):
            report.failed[f.uri] = f"requires {', '.join(r for r in f.requires if r in report.failed)}, not loaded"
            continue
        try:
            with quiet_asyncua():
                await server.import_xml(str(f.path), auto_load_definitions=f.uri not in NO_PYTHON_TYPES)
        except Exception as exc:  # noqa: BLE001 - reported; the server goes on with the others
            report.failed[f.uri] = f"import of {f.path.name} failed: {type(exc).__name__}: {exc}"
            continue
        report.loaded.append(f.uri)
    return report
