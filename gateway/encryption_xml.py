"""The XML of bucket default encryption (?encryption): a
ServerSideEncryptionConfiguration with one Rule, parsed into and rendered from
tessera.bucket_encryption.DefaultEncryption (docs/encryption.md).

Invariant: a parsed configuration always passes tessera.bucket_encryption.check.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from gateway.s3xml import _document, _el, _local_name, _parse, _wrap
from tessera import bucket_encryption, errors
from tessera.bucket_encryption import DefaultEncryption


def _children(element: Element, name: str) -> list[Element]:
    return [c for c in element if _local_name(c) == name]


def parse_configuration(body: bytes) -> DefaultEncryption:
    """The default of a ServerSideEncryptionConfiguration body (one Rule)."""
    root = _parse(body, "ServerSideEncryptionConfiguration")
    rules = _children(root, "Rule")
    if len(rules) != 1:
        raise errors.MalformedXML("The configuration must hold exactly one Rule.")
    defaults = _children(rules[0], "ApplyServerSideEncryptionByDefault")
    if len(defaults) != 1:
        raise errors.MalformedXML("The Rule must hold ApplyServerSideEncryptionByDefault.")
    algorithms = _children(defaults[0], "SSEAlgorithm")
    key_ids = _children(defaults[0], "KMSMasterKeyID")
    if len(algorithms) != 1 or len(key_ids) > 1:
        raise errors.MalformedXML("SSEAlgorithm is required, once.")
    config = DefaultEncryption(
        algorithm=(algorithms[0].text or "").strip(),
        kms_key_id=(key_ids[0].text or "").strip() if key_ids else "",
    )
    return bucket_encryption.check(config)


def render_configuration(config: DefaultEncryption) -> bytes:
    fields = [_el("SSEAlgorithm", config.algorithm)]
    if config.kms_key_id:
        fields.append(_el("KMSMasterKeyID", config.kms_key_id))
    rule = _wrap(
        "Rule",
        [_wrap("ApplyServerSideEncryptionByDefault", fields), _el("BucketKeyEnabled", "false")],
    )
    return _document("ServerSideEncryptionConfiguration", [rule])
