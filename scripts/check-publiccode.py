#!/usr/bin/env python3
"""Check publiccode.yml against the rules of the publiccode.yml standard (v0.x, Italian extension).

A stand-in for the official Developers Italia validator (publiccode-parser-go, v5 line), which
cannot be installed here: it is a Go program and the machines of this project reach no Go module
source. The rules below follow what that validator checks in no-network mode, written from the
standard: strict keys (an unknown key is an error), required keys, vocabularies (categories,
scopes, softwareType, developmentStatus, maintenance type), description lengths, BCP 47 languages,
SPDX licence expressions, dates, URLs, local logo/screenshot files; and its deprecation warnings
(genericName, legal.repoOwner, legal.authorsFile, lowercase `it`, IT.conforme, ...). URL
reachability is not checked (no network), as with the official `--no-network`.

Output: `FILE:LINE:COL: error|warning: KEY: message`, like the official CLI.
Exit 0 when there is no error (and no warning with --warnings-as-errors), 1 otherwise.
`--self-test` checks the checker on small broken documents.
"""
import datetime
import os
import re
import sys
import unicodedata

import yaml

SUPPORTED_VERSIONS = ["0", "0.2", "0.2.0", "0.2.1", "0.2.2", "0.3", "0.3.0", "0.4", "0.4.0", "0.5", "0.5.0"]
LATEST = "0.5"

CATEGORIES = set("""
accounting agile-project-management applicant-tracking application-development appointment-scheduling
backup billing-and-invoicing blog budgeting business-intelligence business-process-management cad
call-center-management cloud-management collaboration communications compliance-management
contact-management content-management crm customer-service-and-support data-analytics data-collection
data-visualization design design-system digital-asset-management digital-citizenship document-management
donor-management e-commerce e-signature educational-content email-management email-marketing
employee-management enterprise-project-management enterprise-social-networking erp event-management
facility-management feedback-and-reviews-management financial-reporting fleet-management fundraising
gamification geographic-information-systems grant-management graphic-design help-desk hr ide
identity-management instant-messaging integrated-library-system inventory-management it-asset-management
it-development it-management it-security it-service-management knowledge-management
learning-management-system marketing mind-mapping mobile-marketing mobile-payment network-management
office online-booking online-community payment-gateway payroll predictive-analysis procurement
productivity-suite project-collaboration project-management property-management real-estate-management
regulations-and-directives remote-support resource-management sales-management seo service-desk
social-media-management survey talent-management task-management taxes-management test-management
time-management time-tracking translation video-conferencing video-editing visitor-management voip
warehouse-management web-collaboration web-conferencing whistleblowing website-builder
workflow-management other
""".split())

SCOPES = set("""
agriculture culture defence education emergency-services employment energy environment
finance-and-economic-development foreign-affairs government healthcare infrastructures justice
local-authorities manufacturing research science-and-technology security society sport tourism
transportation welfare
""".split())

SOFTWARE_TYPES = {"standalone/mobile", "standalone/iot", "standalone/desktop", "standalone/web",
                  "standalone/backend", "standalone/other", "addon", "library", "configurationFiles"}
DEVELOPMENT_STATUSES = {"concept", "development", "beta", "stable", "obsolete"}
MAINTENANCE_TYPES = {"internal", "contract", "community", "none"}

# ISO 639-1 two-letter codes: the primary subtag of a BCP 47 tag must be one of these
# (three-letter ISO 639-2/3 subtags are accepted by shape only).
ISO_639_1 = set("""
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv
dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig
ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh
mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru
rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug
uk ur uz ve vi vo wa wo xh yi yo za zh zu
""".split())
BCP47 = re.compile(r"^(?:[a-z]{2,3})(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?(?:-(?:[0-9A-Za-z]{5,8}|[0-9][0-9A-Za-z]{3}))*$")

# SPDX licence identifiers accepted here: the common free-software ones. An expression may combine
# them with AND / OR / WITH and parentheses; `+` and `LicenseRef-...` are accepted too.
SPDX_IDS = set("""
0BSD AFL-3.0 AGPL-1.0-only AGPL-1.0-or-later AGPL-3.0-only AGPL-3.0-or-later Apache-1.1 Apache-2.0
APSL-2.0 Artistic-2.0 BSD-1-Clause BSD-2-Clause BSD-2-Clause-Patent BSD-3-Clause BSD-3-Clause-Clear
BSD-4-Clause BSL-1.0 CC-BY-3.0 CC-BY-4.0 CC-BY-SA-3.0 CC-BY-SA-4.0 CC0-1.0 CDDL-1.0 CDDL-1.1 CECILL-2.1
CECILL-B CECILL-C ECL-2.0 EFL-2.0 EPL-1.0 EPL-2.0 EUPL-1.1 EUPL-1.2 GFDL-1.3-only GFDL-1.3-or-later
GPL-2.0-only GPL-2.0-or-later GPL-3.0-only GPL-3.0-or-later IPL-1.0 ISC LGPL-2.0-only LGPL-2.0-or-later
LGPL-2.1-only LGPL-2.1-or-later LGPL-3.0-only LGPL-3.0-or-later LPPL-1.3c MIT MIT-0 MPL-1.1 MPL-2.0
MPL-2.0-no-copyleft-exception MS-PL MS-RL MulanPSL-2.0 NCSA ODbL-1.0 OFL-1.1 OSL-3.0 PHP-3.01
PostgreSQL Python-2.0 Unlicense UPL-1.0 W3C WTFPL Zlib ZPL-2.1
GPL-2.0 GPL-3.0 LGPL-2.1 LGPL-3.0 AGPL-3.0
""".split())
SPDX_EXCEPTIONS = {"Classpath-exception-2.0", "GCC-exception-3.1", "LLVM-exception", "OpenSSL-exception",
                   "Autoconf-exception-3.0", "Bison-exception-2.2", "Font-exception-2.0"}

ANY = object()  # a free-form value (string, or anything for lists of strings)

CONTACT = {"name": ANY, "email": ANY, "affiliation": ANY, "phone": ANY}
CONTRACTOR = {"name": ANY, "email": ANY, "website": ANY, "until": ANY}
DEPENDENCY = {"name": ANY, "versionMin": ANY, "versionMax": ANY, "optional": ANY, "version": ANY}
DESCRIPTION = {"localisedName": ANY, "genericName": ANY, "shortDescription": ANY, "longDescription": ANY,
               "documentation": ANY, "apiDocumentation": ANY, "features": ANY, "screenshots": ANY,
               "videos": ANY, "awards": ANY}
IT_SECTION = {
    "countryExtensionVersion": ANY,
    "conforme": {"lineeGuidaDesign": ANY, "modelloInteroperabilita": ANY, "misureMinimeSicurezza": ANY, "gdpr": ANY},
    "riuso": {"codiceIPA": ANY},
    "piattaforme": {"spid": ANY, "pagopa": ANY, "cie": ANY, "anpr": ANY, "io": ANY},
}
SCHEMA = {
    "publiccodeYmlVersion": ANY, "name": ANY, "applicationSuite": ANY, "url": ANY, "landingURL": ANY,
    "isBasedOn": ANY, "softwareVersion": ANY, "releaseDate": ANY, "logo": ANY, "monochromeLogo": ANY,
    "organisation": {"name": ANY, "uri": ANY},
    "inputTypes": ANY, "outputTypes": ANY, "platforms": ANY, "categories": ANY, "usedBy": ANY,
    "fundedBy": [{"name": ANY, "uri": ANY}],
    "roadmap": ANY, "developmentStatus": ANY, "softwareType": ANY,
    "intendedAudience": {"scope": ANY, "countries": ANY, "unsupportedCountries": ANY},
    "description": {"*": DESCRIPTION},
    "legal": {"license": ANY, "mainCopyrightOwner": ANY, "repoOwner": ANY, "authorsFile": ANY},
    "maintenance": {"type": ANY, "contractors": [CONTRACTOR], "contacts": [CONTACT]},
    "localisation": {"localisationReady": ANY, "availableLanguages": ANY},
    "dependsOn": {"open": [DEPENDENCY], "proprietary": [DEPENDENCY], "hardware": [DEPENDENCY]},
    "IT": IT_SECTION,
    "it": IT_SECTION,
}


class Report:
    def __init__(self, fname, positions):
        self.fname, self.positions, self.items = fname, positions, []

    def _add(self, kind, key, msg):
        line, col = self.positions.get(key, (0, 0))
        if (line, col) == (0, 0):  # fall back to the nearest parent key that exists
            parent = key
            while parent and (line, col) == (0, 0):
                parent = re.sub(r"(\[[^]]*\]|\.[^.[]*)$", "", parent) if re.search(r"[.[]", parent) else ""
                line, col = self.positions.get(parent, (0, 0))
        self.items.append((line, col, kind, key, msg))

    def error(self, key, msg):
        self._add("error", key, msg)

    def warning(self, key, msg):
        self._add("warning", key, msg)

    def count(self, kind):
        return sum(1 for i in self.items if i[2] == kind)

    def lines(self):
        return [f"{self.fname}:{l}:{c}: {k}: {key}: {m}" if key else f"{self.fname}:{l}:{c}: {k}: {m}"
                for l, c, k, key, m in sorted(self.items, key=lambda i: (i[0], i[1]))]


def positions_of(node, prefix="", out=None):
    """Map dotted keys (`a.b[0].c`) to 1-based (line, column) of the key, or of the item."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = f"{prefix}.{k.value}" if prefix else str(k.value)
            out.setdefault(key, (k.start_mark.line + 1, k.start_mark.column + 1))
            positions_of(v, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            key = f"{prefix}[{i}]"
            out.setdefault(key, (v.start_mark.line + 1, v.start_mark.column + 1))
            positions_of(v, key, out)
    return out


def text_len(s):
    """Length in user-perceived characters (NFC, combining marks not counted)."""
    return sum(1 for ch in unicodedata.normalize("NFC", s) if not unicodedata.combining(ch))


def is_url(v, http_only=False):
    if not isinstance(v, str):
        return False
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#\s]+)[^\s]*$", v)
    if not m:
        return False
    return m.group(1).lower() in ("http", "https") if http_only else True


def is_date(v):
    if isinstance(v, datetime.date):  # YAML 1.1 turns an unquoted 2024-01-31 into a date
        return True
    if not isinstance(v, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        return False
    try:
        datetime.date.fromisoformat(v)
        return True
    except ValueError:
        return False


def is_language(tag):
    if not isinstance(tag, str) or not BCP47.match(tag):
        return False
    primary = tag.split("-")[0]
    return len(primary) == 3 or primary in ISO_639_1


def is_spdx_expression(expr):
    if not isinstance(expr, str) or not expr.strip():
        return False
    tokens = re.findall(r"\(|\)|[^\s()]+", expr)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def license_id():
        nonlocal pos
        tok = peek()
        if tok is None:
            return False
        pos += 1
        if tok == "(":
            if not compound() or peek() != ")":
                return False
            pos += 1
            return True
        ident = tok[:-1] if tok.endswith("+") else tok
        if not (ident in SPDX_IDS or re.fullmatch(r"(DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+", ident)):
            return False
        if peek() == "WITH":
            pos += 1
            exc = peek()
            if exc not in SPDX_EXCEPTIONS:
                return False
            pos += 1
        return True

    def compound():
        nonlocal pos
        if not license_id():
            return False
        while peek() in ("AND", "OR"):
            pos += 1
            if not license_id():
                return False
        return True

    return compound() and pos == len(tokens)


def check_keys(value, schema, path, rep):
    """Strict mode: every key must be one the standard defines."""
    if schema is ANY:
        return
    if isinstance(schema, list):
        if isinstance(value, list):
            for i, item in enumerate(value):
                check_keys(item, schema[0], f"{path}[{i}]", rep)
        elif value is not None:
            rep.error(path, "wrong type for this field (a list is expected)")
        return
    if not isinstance(value, dict):
        if value is not None:
            rep.error(path, "wrong type for this field (a mapping is expected)")
        return
    for k, v in value.items():
        key = f"{path}.{k}" if path else str(k)
        sub = schema.get("*", schema.get(k)) if "*" in schema else schema.get(k)
        if sub is None:
            rep.error(key, f"unknown field '{k}'")
            continue
        check_keys(v, sub, key, rep)


def str_list(pc, key, rep):
    v = pc.get(key) if isinstance(pc, dict) else None
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(i, str) for i in v):
        rep.error(key, "must be a list of strings")
        return None
    return v


def validate(doc, rep, base_dir):
    if not isinstance(doc, dict):
        rep.error("", "the document must be a YAML mapping")
        return
    version = doc.get("publiccodeYmlVersion")
    if version is None:
        rep.error("publiccodeYmlVersion", "publiccodeYmlVersion is a required field")
        return
    if not isinstance(version, str):
        rep.error("publiccodeYmlVersion", "wrong type for this field (quote it: \"0.5\")")
        return
    if version not in SUPPORTED_VERSIONS:
        rep.error("publiccodeYmlVersion", f"unsupported version: '{version}'. Supported versions: {', '.join(SUPPORTED_VERSIONS)}")
        return
    if version != "0" and not version.startswith(LATEST):
        rep.warning("publiccodeYmlVersion", f"v{version} is not the latest version, use '{LATEST}'. Parsing this file as v{LATEST}.")

    check_keys(doc, SCHEMA, "", rep)

    if not doc.get("name") or not isinstance(doc.get("name"), str):
        rep.error("name", "name is a required field")
    if doc.get("url") is None:
        rep.error("url", "url is a required field")
    elif not is_url(doc["url"]):
        rep.error("url", "url must be a valid URL")
    for key in ("landingURL", "roadmap"):
        if doc.get(key) is not None and not is_url(doc[key], http_only=True):
            rep.error(key, f"{key} must be an HTTP URL")
    based = doc.get("isBasedOn")
    for i, u in enumerate(based if isinstance(based, list) else ([based] if based is not None else [])):
        if not is_url(u):
            rep.error(f"isBasedOn[{i}]" if isinstance(based, list) else "isBasedOn", "must be a valid URL")
    if "releaseDate" in doc and not is_date(doc["releaseDate"]):
        rep.error("releaseDate", "releaseDate must be a date with format 'YYYY-MM-DD'")
    if "softwareVersion" in doc and not isinstance(doc["softwareVersion"], str):
        rep.error("softwareVersion", "wrong type for this field (quote it)")

    for key in ("logo", "monochromeLogo"):
        if doc.get(key):
            if key == "monochromeLogo":
                rep.warning(key, "This key is DEPRECATED and will be removed in the future. Use 'logo' instead")
            check_file(doc[key], key, base_dir, rep, (".svg", ".png"))

    org = doc.get("organisation")
    if isinstance(org, dict) and not org.get("name"):
        rep.error("organisation.name", "name is a required field")
    if isinstance(org, dict) and org.get("uri") is not None and not re.match(r"^(https?://|urn:x-italian-pa:)\S+$", str(org["uri"])):
        rep.error("organisation.uri", "uri must be an HTTP URL or a 'urn:x-italian-pa:' URN")
    for i, f in enumerate(doc.get("fundedBy") or []):
        if isinstance(f, dict) and not f.get("name"):
            rep.error(f"fundedBy[{i}].name", "name is a required field")

    for key in ("inputTypes", "outputTypes"):
        if key in doc:
            rep.warning(key, "This key is DEPRECATED and will be removed in the future. It's safe to drop it")

    platforms = str_list(doc, "platforms", rep)
    if not platforms:
        rep.error("platforms", "platforms must contain more than 0 items")

    for i, c in enumerate(str_list(doc, "categories", rep) or []):
        if c not in CATEGORIES:
            rep.error(f"categories[{i}]", f"categories[{i}] must be a valid category (see the standard's list), not '{c}'")

    if doc.get("developmentStatus") not in DEVELOPMENT_STATUSES:
        rep.error("developmentStatus", "developmentStatus must be one of the following: " + ", ".join(sorted(DEVELOPMENT_STATUSES)))
    if doc.get("softwareType") not in SOFTWARE_TYPES:
        rep.error("softwareType", "softwareType must be one of the following: " + ", ".join(sorted(SOFTWARE_TYPES)))

    ia = doc.get("intendedAudience")
    if isinstance(ia, dict):
        for i, s in enumerate(str_list(ia, "scope", rep) or []):
            if s not in SCOPES:
                rep.error(f"intendedAudience.scope[{i}]", f"must be a valid scope, not '{s}'")
        for key in ("countries", "unsupportedCountries"):
            for i, c in enumerate(str_list(ia, key, rep) or []):
                if not re.fullmatch(r"[A-Za-z]{2}", c):
                    rep.error(f"intendedAudience.{key}[{i}]", "must be an ISO 3166-1 alpha-2 country code")
                elif c == c.lower():
                    rep.warning(f"intendedAudience.{key}[{i}]", f"Lowercase country codes are DEPRECATED. Use uppercase instead ('{c.upper()}')")

    descs = doc.get("description")
    if not isinstance(descs, dict) or not descs:
        rep.error("description", "description must contain more than 0 items")
        descs = {}
    for lang, d in descs.items():
        p = f"description.{lang}"
        if not is_language(lang):
            rep.error(p, f"'{lang}' is not a valid BCP 47 language tag")
        if not isinstance(d, dict):
            continue
        if d.get("genericName") is not None:
            rep.warning(f"{p}.genericName", "This key is DEPRECATED and will be removed in the future. It's safe to drop it")
            if text_len(str(d["genericName"])) > 35:
                rep.error(f"{p}.genericName", "genericName must be a maximum of 35 characters in length")
        short = d.get("shortDescription")
        if not isinstance(short, str) or not short.strip():
            rep.error(f"{p}.shortDescription", "shortDescription is a required field")
        elif text_len(short) > 150:
            rep.error(f"{p}.shortDescription", f"shortDescription must be a maximum of 150 characters in length (it is {text_len(short)})")
        long = d.get("longDescription")
        if not isinstance(long, str) or not long.strip():
            rep.error(f"{p}.longDescription", "longDescription is a required field")
        elif not 150 <= text_len(long) <= 10000:
            rep.error(f"{p}.longDescription", f"longDescription must be 150 to 10000 characters long (it is {text_len(long)})")
        for key in ("documentation", "apiDocumentation"):
            if d.get(key) is not None and not is_url(d[key], http_only=True):
                rep.error(f"{p}.{key}", f"{key} must be an HTTP URL")
        feats = d.get("features")
        if not isinstance(feats, list) or not feats:
            rep.error(f"{p}.features", "features must contain more than 0 items")
        elif not all(isinstance(f, str) and f.strip() for f in feats):
            rep.error(f"{p}.features", "every feature must be a non-empty string")
        for i, s in enumerate(d.get("screenshots") or []):
            check_file(s, f"{p}.screenshots[{i}]", base_dir, rep, (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"))
        for i, v in enumerate(d.get("videos") or []):
            if not is_url(v, http_only=True):
                rep.error(f"{p}.videos[{i}]", "must be an HTTP URL of an oEmbed video")

    legal = doc.get("legal") if isinstance(doc.get("legal"), dict) else {}
    if not legal.get("license"):
        rep.error("legal.license", "license is a required field")
    elif not is_spdx_expression(legal["license"]):
        rep.error("legal.license", f"license must be a valid SPDX licence expression, not '{legal['license']}'")
    if "repoOwner" in legal:
        rep.warning("legal.repoOwner", "This key is DEPRECATED and will be removed in the future. Use 'organisation.name' instead")
    if "authorsFile" in legal:
        rep.warning("legal.authorsFile", "This key is DEPRECATED and will be removed in the future. It's safe to drop it")
        check_file(legal["authorsFile"], "legal.authorsFile", base_dir, rep, None)

    m = doc.get("maintenance") if isinstance(doc.get("maintenance"), dict) else {}
    mtype = m.get("type")
    if mtype not in MAINTENANCE_TYPES:
        rep.error("maintenance.type", "type must be one of the following: " + ", ".join(sorted(MAINTENANCE_TYPES)))
    if mtype == "contract" and not m.get("contractors"):
        rep.error("maintenance.contractors", "contractors is required when maintenance type is 'contract'")
    if mtype != "contract" and m.get("contractors"):
        rep.error("maintenance.contractors", "contractors is allowed only when maintenance type is 'contract'")
    if mtype in ("community", "internal") and not m.get("contacts"):
        rep.error("maintenance.contacts", f"contacts is required when maintenance type is '{mtype}'")
    for i, c in enumerate(m.get("contacts") or []):
        if isinstance(c, dict):
            if not c.get("name"):
                rep.error(f"maintenance.contacts[{i}].name", "name is a required field")
            if c.get("email") is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", str(c["email"])):
                rep.error(f"maintenance.contacts[{i}].email", "email must be a valid email address")
    for i, c in enumerate(m.get("contractors") or []):
        if isinstance(c, dict):
            if not c.get("name"):
                rep.error(f"maintenance.contractors[{i}].name", "name is a required field")
            if not is_date(c.get("until")):
                rep.error(f"maintenance.contractors[{i}].until", "until must be a date with format 'YYYY-MM-DD'")

    loc = doc.get("localisation") if isinstance(doc.get("localisation"), dict) else {}
    if not isinstance(loc.get("localisationReady"), bool):
        rep.error("localisation.localisationReady", "localisationReady is a required field (true or false)")
    langs = str_list(loc, "availableLanguages", _Prefixed(rep, "localisation."))
    if not langs:
        rep.error("localisation.availableLanguages", "availableLanguages must contain more than 0 items")
    for i, lang in enumerate(langs or []):
        if not is_language(lang):
            rep.error(f"localisation.availableLanguages[{i}]", f"'{lang}' is not a valid BCP 47 language tag")

    deps = doc.get("dependsOn") if isinstance(doc.get("dependsOn"), dict) else {}
    for kind, items in deps.items():
        for i, dep in enumerate(items or []):
            if isinstance(dep, dict) and not dep.get("name"):
                rep.error(f"dependsOn.{kind}[{i}].name", "name is a required field")

    if doc.get("it") is not None:
        rep.warning("it", "Lowercase country codes are DEPRECATED and will be removed in the future. Use 'IT' instead")
    if doc.get("it") is not None and doc.get("IT") is not None:
        rep.error("it", "'IT' key already present. Remove this key")
    it_key = "IT" if doc.get("IT") is not None else "it"
    it = doc.get(it_key)
    if isinstance(it, dict):
        cev = it.get("countryExtensionVersion")
        if cev is not None and cev not in ("0.2", "1.0"):
            rep.error(f"{it_key}.countryExtensionVersion", "countryExtensionVersion must be one of the following: 0.2, 1.0 (quoted)")
        if it.get("conforme") is not None:
            rep.warning(f"{it_key}.conforme", "This key is DEPRECATED and will be removed in the future. It's safe to drop it")
        for section in ("conforme", "piattaforme"):
            for k, v in (it.get(section) or {}).items():
                if not isinstance(v, bool):
                    rep.error(f"{it_key}.{section}.{k}", "must be true or false")
        ipa = (it.get("riuso") or {}).get("codiceIPA")
        if ipa:
            rep.warning(f"{it_key}.riuso.codiceIPA", f"This key is DEPRECATED and will be removed in the future. Use 'organisation.uri' and set it to 'urn:x-italian-pa:{ipa}' instead")


class _Prefixed:
    """Report wrapper that prefixes keys (for helpers that take a sub-mapping)."""

    def __init__(self, rep, prefix):
        self.rep, self.prefix = rep, prefix

    def error(self, key, msg):
        self.rep.error(self.prefix + key, msg)


def check_file(value, key, base_dir, rep, extensions):
    """Relative paths or HTTP(S) URLs only; a relative path must exist (no network needed)."""
    if not isinstance(value, str):
        rep.error(key, "wrong type for this field")
        return
    if value.startswith("/"):
        rep.error(key, "is an absolute path. Only relative paths or HTTP(s) URLs allowed")
        return
    if value.startswith("file:"):
        rep.error(key, "is a file:// URL. Only relative paths or HTTP(s) URLs allowed")
        return
    if is_url(value):
        return  # reachability needs the network: not checked here, as with --no-network
    if extensions and not value.lower().endswith(extensions):
        rep.error(key, f"'{value}' has an unsupported extension (allowed: {', '.join(extensions)})")
    if not os.path.isfile(os.path.join(base_dir, value)):
        rep.error(key, f"'{value}' does not exist")


def check_text(text, fname, base_dir):
    rep = Report(fname, {})
    try:
        docs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        rep.items.append((mark.line + 1 if mark else 0, mark.column + 1 if mark else 0, "error", "", f"invalid YAML: {getattr(e, 'problem', e)}"))
        return rep
    if len(docs) != 1:
        rep.error("", "exactly one YAML document expected")
        return rep
    rep.positions = positions_of(docs[0])
    validate(yaml.safe_load(text), rep, base_dir)
    return rep


def self_test():
    """The checker must catch each rule it claims; returns the number of failures."""
    good = """publiccodeYmlVersion: "0.5"
name: X
url: "https://example.org/x.git"
platforms: [web]
categories: [digital-citizenship]
developmentStatus: beta
softwareType: standalone/web
description:
  en:
    shortDescription: Short.
    longDescription: >-
      """ + "Long enough text. " * 10 + """
    features: [One]
legal:
  license: AGPL-3.0-or-later
maintenance:
  type: community
  contacts: [{name: Someone}]
localisation:
  localisationReady: true
  availableLanguages: [en]
"""
    cases = [
        ("valid document", good, None),
        ("old standard version", good.replace('"0.5"', '"0.4"'), "warning: publiccodeYmlVersion"),
        ("unsupported version", good.replace('"0.5"', '"9.9"'), "error: publiccodeYmlVersion"),
        ("unknown key", good + "colour: red\n", "error: colour"),
        ("unknown nested key", good.replace("  license:", "  licence: x\n  license:"), "error: legal.licence"),
        ("category", good.replace("[digital-citizenship]", "[participation]"), "error: categories[0]"),
        ("softwareType", good.replace("standalone/web", "web"), "error: softwareType"),
        ("developmentStatus", good.replace("beta", "alpha"), "error: developmentStatus"),
        ("short description length", good.replace("Short.", "x" * 151), "error: description.en.shortDescription"),
        ("licence", good.replace("AGPL-3.0-or-later", "AGPL-3+"), "error: legal.license"),
        ("licence expression", good.replace("AGPL-3.0-or-later", "(MIT OR Apache-2.0) AND CC0-1.0"), None),
        ("maintenance contacts", good.replace("  contacts: [{name: Someone}]\n", ""), "error: maintenance.contacts"),
        ("maintenance type", good.replace("type: community", "type: volunteers"), "error: maintenance.type"),
        ("language", good.replace("availableLanguages: [en]", "availableLanguages: [english]"), "error: localisation.availableLanguages[0]"),
        ("description language", good.replace("  en:\n", "  xx-yy:\n"), "error: description.xx-yy"),
        ("deprecated genericName", good.replace("    features:", "    genericName: Y\n    features:"), "warning: description.en.genericName"),
        ("deprecated lowercase it", good + "it:\n  countryExtensionVersion: \"1.0\"\n", "warning: it"),
        ("deprecated conforme", good + "IT:\n  conforme:\n    gdpr: true\n", "warning: IT.conforme"),
        ("deprecated repoOwner", good.replace("  license:", "  repoOwner: Y\n  license:"), "warning: legal.repoOwner"),
        ("missing logo file", good + "logo: no-such-logo.svg\n", "error: logo"),
        ("release date", good + "releaseDate: \"2024-13-01\"\n", "error: releaseDate"),
        ("empty platforms", good.replace("platforms: [web]", "platforms: []"), "error: platforms"),
    ]
    long_short = good.replace("      " + "Long enough text. " * 10, "      Too short.")
    cases.append(("long description too short", long_short, "error: description.en.longDescription"))
    failures = 0
    for name, text, expect in cases:
        out = "\n".join(check_text(text, "t.yml", os.getcwd()).lines())
        ok = (expect is None and out == "") or (expect is not None and f" {expect}:" in out)
        if not ok:
            failures += 1
            print(f"self-test FAILED: {name}: expected {expect or 'no finding'}, got:\n{out or '(nothing)'}")
    print(f"publiccode-self-test: {len(cases) - failures} passed, {failures} failed")
    return failures


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    if "--self-test" in argv:
        return 1 if self_test() else 0
    fname = args[0] if args else "publiccode.yml"
    with open(fname, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        print(f"{fname}:0:0: error: Invalid UTF-8")
        return 1
    rep = check_text(text, fname, os.path.dirname(os.path.abspath(fname)))
    for line in rep.lines():
        print(line)
    errors, warnings = rep.count("error"), rep.count("warning")
    print(f"{fname}: {errors} error(s), {warnings} warning(s)")
    if errors or (warnings and "--warnings-as-errors" in argv):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
