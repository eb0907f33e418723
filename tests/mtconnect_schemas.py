"""The MTConnect 2.5 schemas from ../shared/standards/mtconnect (their XSD 1.0 variants, which lxml reads)."""
from __future__ import annotations

from functools import cache

from lxml import etree

from tests.conftest import SHARED

MTCONNECT = SHARED / "standards" / "mtconnect"
NS = {"d": "urn:mtconnect.org:MTConnectDevices:2.5", "s": "urn:mtconnect.org:MTConnectStreams:2.5",
      "e": "urn:mtconnect.org:MTConnectError:2.5", "a": "urn:mtconnect.org:MTConnectAssets:2.5"}


@cache
def schema(kind: str) -> etree.XMLSchema:
    """MTConnect{kind}_2.5 (Devices, Streams, Error, Assets)."""
    return etree.XMLSchema(etree.parse(str(MTCONNECT / f"MTConnect{kind}_2.5_1.0.xsd")))


def valid(kind: str, body: bytes) -> etree._Element:
    """Parse a document and assert it validates against the schema of its kind; returns its root."""
    root = etree.fromstring(body)
    s = schema(kind)
    assert s.validate(root), f"not a valid MTConnect{kind} 2.5 document: {s.error_log}"
    return root
