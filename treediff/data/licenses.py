"""License identification for gathered code: SPDX-ish names, the allow-list, and where to read them.

The corpus keeps a file only when its license is on :data:`ALLOWED_LICENSES`:

* **permissive** licenses (MIT, BSD, Apache-2.0, ISC, PSF, Zlib, BSL-1.0, Unlicense, CC0, ...) and
  MPL-2.0 (file-level copyleft: a file keeps its notice, nothing else is bound);
* **runtime/linking-exception** licenses that exist so that code may be built *against* the
  toolchain's sources and headers without their terms spreading: the JDK's GPL-2.0 with the
  Classpath exception, libstdc++'s GPL-3.0 with the GCC runtime library exception, the kernel's
  UAPI headers (GPL-2.0 with the Linux-syscall-note) and glibc's LGPL headers.

Everything else is skipped with reason ``license``: plain GPL/AGPL, proprietary, and ``unknown``
(a package whose metadata states no license we recognise).  Names are normalised to SPDX-like
ids by :func:`normalize_license`; unrecognised text becomes ``"unknown"``.

>>> normalize_license("BSD License"), normalize_license("Apache Software License"), normalize_license("MIT OR Apache-2.0")
('BSD-3-Clause', 'Apache-2.0', 'MIT OR Apache-2.0')
>>> is_allowed("MIT OR Apache-2.0"), is_allowed("GPL-3.0-or-later"), is_allowed("unknown")
(True, False, False)
"""

from __future__ import annotations

import email.parser
import json
import re
from collections import Counter
from pathlib import Path

__all__ = [
    "ALLOWED_LICENSES",
    "normalize_license",
    "is_allowed",
    "license_of_metadata",
    "license_of_package_json",
    "license_of_copyright",
    "license_in_text",
]

#: SPDX-ish ids a gathered file may carry (see the module docstring for the policy).
ALLOWED_LICENSES = frozenset({
    "MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "Apache-2.0", "ISC", "PSF-2.0", "Python-2.0",
    "Zlib", "BSL-1.0", "Unlicense", "CC0-1.0", "MPL-2.0", "HPND", "X11", "curl", "public-domain", "BlueOak-1.0.0",
    "GPL-2.0-with-classpath-exception", "GPL-3.0-with-GCC-exception", "GPL-2.0-with-Linux-syscall-note",
    "LGPL-2.1-or-later",
})

# (pattern, id): first match wins, case-insensitive, applied to one alternative of an OR expression
_RULES: tuple[tuple[str, str], ...] = (
    (r"classpath", "GPL-2.0-with-classpath-exception"),
    (r"gcc.{0,20}exception|runtime library exception", "GPL-3.0-with-GCC-exception"),
    (r"linux-syscall-note", "GPL-2.0-with-Linux-syscall-note"),
    (r"^(lgpl|gnu lesser|gnu library)", "LGPL-2.1-or-later"),
    (r"affero|^agpl", "AGPL-3.0"),
    (r"^(gpl|gnu general public)", "GPL"),
    (r"^go$|^golang$", "BSD-3-Clause"),  # Debian's name for Go's BSD-3-Clause license
    (r"^mit-0$", "MIT-0"),
    (r"^(mit|expat)\b|mit license", "MIT"),
    (r"^0bsd$|zero-clause bsd", "0BSD"),
    (r"bsd.{0,3}2|simplified bsd|freebsd", "BSD-2-Clause"),
    (r"bsd", "BSD-3-Clause"),
    (r"apache", "Apache-2.0"),
    (r"^isc\b|isc license", "ISC"),
    (r"python software foundation|^psf|^python-2\.0", "PSF-2.0"),
    (r"zlib", "Zlib"),
    (r"boost|^bsl-1\.0", "BSL-1.0"),
    (r"unlicense", "Unlicense"),
    (r"cc0|public domain|public-domain", "CC0-1.0"),
    (r"mozilla|^mpl", "MPL-2.0"),
    (r"^hpnd|historical permission|^mit-cmu", "HPND"),
    (r"^x11\b", "X11"),
    (r"^curl\b", "curl"),
    (r"blueoak", "BlueOak-1.0.0"),
)


def _normalize_one(text: str) -> str:
    t = text.strip().strip("()").strip()
    for pattern, spdx in _RULES:
        if re.search(pattern, t, re.IGNORECASE):
            return spdx
    return "unknown"


def normalize_license(text: str | None) -> str:
    """An SPDX-ish id (or ``"A OR B"``) for a license name, classifier or expression; ``"unknown"`` if none."""
    if not text or not text.strip() or len(text) > 200:  # a pasted license text, not a name
        return _normalize_one(text[:200]) if text and len(text) > 200 else "unknown"
    parts = re.split(r"\s+(?:or|OR|/)\s+|\s*/\s*", text.strip().strip("()"))
    ids = list(dict.fromkeys(_normalize_one(p) for p in parts if p.strip()))
    return " OR ".join(ids) if ids else "unknown"


def is_allowed(license_id: str) -> bool:
    """Whether a file with this (normalised) license may enter the corpus: any allowed alternative suffices."""
    return any(part in ALLOWED_LICENSES for part in license_id.split(" OR "))


def license_of_metadata(text: str) -> str:
    """License of a Python distribution from its ``METADATA``/``PKG-INFO`` (expression, field, classifiers)."""
    msg = email.parser.HeaderParser().parsestr(text)
    expression = msg.get("License-Expression")
    if expression:
        return normalize_license(expression)
    classifiers = [c.split("::")[-1].strip() for c in msg.get_all("Classifier") or [] if c.startswith("License ::")]
    for value in [msg.get("License") or "", *classifiers]:
        first = value.strip().splitlines()[0] if value.strip() else ""
        found = normalize_license(first) if first else "unknown"
        if found != "unknown":
            return found
    return "unknown"


def license_of_package_json(path: str | Path) -> str:
    """License of an npm package from its ``package.json`` (``license`` or legacy ``licenses``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unknown"
    value = data.get("license") or data.get("licenses")
    if isinstance(value, list):
        value = " OR ".join(str(v.get("type", v) if isinstance(v, dict) else v) for v in value)
    elif isinstance(value, dict):
        value = value.get("type")
    return normalize_license(str(value)) if value else "unknown"


def license_of_copyright(path: str | Path) -> str:
    """License of a Debian package from its ``copyright`` file: the ``Files: *`` stanza of a DEP-5 file."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "unknown"
    stanzas = re.split(r"\n\s*\n", text)
    found: list[str] = []
    for stanza in stanzas:
        m = re.search(r"^License:\s*(.+)$", stanza, re.MULTILINE)
        if m and re.search(r"^Files:", stanza, re.MULTILINE):
            if re.search(r"^Files:\s*\*\s*$", stanza, re.MULTILINE):
                return normalize_license(m.group(1))
            found.append(normalize_license(m.group(1)))
    if found:  # no "Files: *" stanza: the license most files stanzas name
        return Counter(found).most_common(1)[0][0]
    return license_in_text(text[:4000])


def license_in_text(head: str) -> str:
    """License named in a file's leading comment: an SPDX tag, else a well-known phrase; ``"unknown"`` if none."""
    m = re.search(r"SPDX-License-Identifier:\s*([^\n*]+)", head)
    if m:
        return normalize_license(m.group(1).strip().rstrip("*/ ").replace(" WITH ", " with "))
    phrases = (
        ("Classpath", "GPL-2.0-with-classpath-exception"),
        ("GCC Runtime Library Exception", "GPL-3.0-with-GCC-exception"),
        ("GNU Lesser General Public", "LGPL-2.1-or-later"),
        ("GNU Library General Public", "LGPL-2.1-or-later"),
        ("GNU General Public License", "GPL"),
        ("Apache License", "Apache-2.0"),
        ("Permission is hereby granted, free of charge", "MIT"),
        ("BSD-style license", "BSD-3-Clause"),
        ("MIT license", "MIT"),
        ("Redistribution and use in source and binary forms", "BSD-3-Clause"),
        ("Permission to use, copy, modify, and/or distribute", "ISC"),
        ("Boost Software License", "BSL-1.0"),
        ("Mozilla Public", "MPL-2.0"),
        ("public domain", "CC0-1.0"),
    )
    for phrase, spdx in phrases:
        if phrase.lower() in head.lower():
            return spdx
    return "unknown"
