"""Transmitter settings for the IRS filing, from a checked ``prorata.toml``.

    [transmitter]
    tin = "123456789"          # transmitter's TIN, 9 digits
    tcc = "ABC12"              # Transmitter Control Code, 5 letters or digits
    name = "Example Recordkeeping LLC"
    company_name = "Example Recordkeeping LLC"
    address = "1 Main St"
    city = "Springfield"
    state = "IL"
    zip = "62701"
    contact_name = "Tax Operations"
    contact_phone = "2175550100"
    contact_email = "taxops@example.com"
    test_file = false          # true: T record position 28 = "T"

    [cfsf]                     # optional: the Combined Federal/State Filing Program
    approved_payers = ["123456789"]   # payer EINs the IRS approved for CF/SF (9 digits each)

A payer is coded for CF/SF (FIRE: A position 6, B 747-748, K records; IRIS: CFSFElectionInd,
CFSFElectionStateCd) only when its EIN is in ``cfsf.approved_payers`` (Publication 1220 Part A:
approval through a CF/SF test file; IRIS rule S1H002: the TCC must take part in the program), and
only for the states on the IRS's list of the tax year (parameter ``cfsf_state_codes``). Without a
``[cfsf]`` table no payer is coded.

    [iris]                     # optional
    schema_package = "/srv/irs/iris-a2a-ty2025-v1.2"   # the IRS's IRIS A2A package (relative: to this file)
    software_id = ["25A1B2C3D4", "26A1B2C3D4"]        # issued by the IRS; one or a list, per tax year

    [approval]
    one_person_team = false    # true: the person who prepared a filing may approve it too

Every IRIS transmission is validated against ``schema_package``'s schema before it is kept (without
it, against ``PRORATA_IRIS_SCHEMA_PACKAGE``'s; without either it is written unchecked, and the
manifest says so). The SoftwareId written is the one whose first two digits are the tax year's last
two (IRIS rule TMFST020).

Looked up at ``--config PATH``, else ``./prorata.toml``. Without it the IRS file is written as a test
file with placeholder transmitter details, and the manifest says so (docs/spec/outputs.md).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from contracts.extract import USPS_CODES
from contracts.rules import TIN_TEXT_PATTERN
from flows.errors import OperatorError
from transforms.irs.shared import Transmitter


class ConfigError(OperatorError):
    """The settings file is unusable; the message is one line for stderr."""


@dataclass(frozen=True)
class TransmitterSettings:
    """What ``prorata.toml`` says about filing: the transmitter (the one transmitter of both IRS
    writers, :class:`transforms.irs.shared.Transmitter`, with its CF/SF approved payers), whether
    files are test files, and the IRIS schema package and SoftwareIds."""

    transmitter: Transmitter
    test_file: bool
    configured: bool  # False: placeholder settings, no prorata.toml
    iris_schema_package: str = ""  # [iris] schema_package ("" : PRORATA_IRIS_SCHEMA_PACKAGE or none)
    software_ids: tuple[str, ...] = ()  # [iris] software_id

    def software_id(self, tax_year: int) -> str | None:
        """The SoftwareId for ``tax_year``'s transmissions: the configured one whose first two digits
        are the tax year's last two (TMFST020); "" when none is configured, None when none fits."""
        if not self.software_ids:
            return ""
        year = f"{tax_year % 100:02d}"
        return next((s for s in self.software_ids if s.startswith(year)), None)

    @classmethod
    def placeholder(cls) -> TransmitterSettings:
        placeholder = Transmitter(
            tin="000000001",
            tcc="TEST0",
            name="PRORATA TEST TRANSMITTER",
            company_name="PRORATA TEST TRANSMITTER",
            address="NOT CONFIGURED",
            city="NOT CONFIGURED",
            state="IL",
            zip="00000",
            contact_name="NOT CONFIGURED",
            contact_phone="0000000000",
            contact_email="",
        )
        return cls(placeholder, test_file=True, configured=False)


CHECKS = {
    # 9 digits, not one digit repeated (Publication 1220: such a TIN counts as incorrect; the writers refuse it)
    "tin": (TIN_TEXT_PATTERN, "must be 9 digits, not one digit repeated"),
    "tcc": (r"^[A-Za-z0-9]{5}$", "must be 5 letters or digits"),
    "zip": (r"^[0-9]{5}([0-9]{4})?$", "must be 5 or 9 digits"),
    "contact_phone": (r"^[0-9]{7,15}$", "must be digits only"),
    # T record 359-408: 50 positions of ASCII (the FIRE writer refuses more)
    "contact_email": (
        r"^$|^(?=.{1,50}$)[!-?A-~]+@[!-?A-~]+\.[!-?A-~]+$",
        "must be an ASCII e-mail address of at most 50 characters",
    ),
}
REQUIRED = ("tin", "tcc", "name", "address", "city", "state", "zip", "contact_name", "contact_phone")


@dataclass(frozen=True)
class FilingPolicy:
    """How filings are released (docs/OPERATIONS.md, "Prepare, review, approve")."""

    one_person_team: bool = False  # the preparer may approve their own filing


def _settings_file(path: Path | None) -> Path | None:
    if path is None:
        default = Path("prorata.toml")
        return default if default.is_file() else None
    if not path.is_file():
        raise ConfigError(f"{path}: file is missing")
    return path


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not readable as TOML ({type(exc).__name__})") from None


def load_policy(path: Path | None) -> FilingPolicy:
    """The ``[approval]`` settings (defaults when there is no settings file)."""
    found = _settings_file(path)
    if found is None:
        return FilingPolicy()
    approval = _read_toml(found).get("approval", {})
    if not isinstance(approval, dict):
        raise ConfigError(f"{found}: [approval] must be a table")
    one = approval.get("one_person_team", False)
    if not isinstance(one, bool):
        raise ConfigError(f"{found}: approval.one_person_team must be true or false")
    return FilingPolicy(one_person_team=one)


def load_settings(path: Path | None) -> TransmitterSettings:
    """Read and check the transmitter settings; placeholder settings when there is no file."""
    found = _settings_file(path)
    if found is None:
        return TransmitterSettings.placeholder()
    path = found
    raw = _read_toml(path)
    t = raw.get("transmitter")
    if not isinstance(t, dict):
        raise ConfigError(f"{path}: needs a [transmitter] table")
    for key in REQUIRED:
        if not str(t.get(key, "")).strip():
            raise ConfigError(f"{path}: transmitter.{key} is missing")
    for key, (pattern, words) in CHECKS.items():
        if not re.fullmatch(pattern, str(t.get(key, ""))):
            raise ConfigError(f"{path}: transmitter.{key} {words}")
    if str(t["state"]) not in USPS_CODES:
        raise ConfigError(f"{path}: transmitter.state must be a USPS state code")
    approved = _cfsf_approved_payers(raw.get("cfsf", {}), path)
    package, software_ids = _iris(path, raw.get("iris", {}))
    transmitter = Transmitter(
        tin=str(t["tin"]),
        tcc=str(t["tcc"]).upper(),
        name=str(t["name"]),
        company_name=str(t.get("company_name") or t["name"]),
        address=str(t["address"]),
        city=str(t["city"]),
        state=str(t["state"]),
        zip=str(t["zip"]),
        contact_name=str(t["contact_name"]),
        contact_phone=str(t["contact_phone"]),
        contact_email=str(t.get("contact_email", "")),
        cfsf_approved_payers=approved,
    )
    settings = TransmitterSettings(
        transmitter,
        test_file=bool(t.get("test_file", False)),
        configured=True,
        iris_schema_package=package,
        software_ids=software_ids,
    )
    _writable(settings, path)
    return settings


def _writable(settings: TransmitterSettings, path: Path) -> None:
    """The transmitter's details as both IRS writers check them (the FIRE T record, the IRIS
    manifest's TransmitterGrp: a city of letters, a phone of 10 digits or more, ...): refused here,
    one line, rather than by the writer at the end of the run."""
    from transforms.irs.fire.pub1220 import validate_transmitter
    from transforms.irs.iris.iris_xml import IrisOptions, check_transmitter
    from transforms.irs.shared import FilingInputError

    t = settings.transmitter
    try:
        validate_transmitter(t)
        check_transmitter(t, IrisOptions())
    except FilingInputError as error:
        raise ConfigError(f"{path}: {error}") from None


def _cfsf_approved_payers(cfsf: object, path: Path) -> frozenset[str]:
    """``[cfsf] approved_payers``: the payer EINs approved for the Combined Federal/State Filing
    Program, as 9 digits ("12-3456789" is "123456789", as the writers group payers)."""
    if not isinstance(cfsf, dict):
        raise ConfigError(f"{path}: cfsf must be a table ([cfsf])")
    unknown = sorted(set(cfsf) - {"approved_payers"})
    if unknown:
        raise ConfigError(f"{path}: cfsf.{unknown[0]} is not a setting (cfsf takes approved_payers)")
    payers = cfsf.get("approved_payers", [])
    words = "must be a list of payer EINs, 9 digits each"
    if not isinstance(payers, list) or not all(isinstance(p, str) for p in payers):
        raise ConfigError(f"{path}: cfsf.approved_payers {words}")
    if not all(re.fullmatch(r"[0-9]{2}-?[0-9]{7}", p) for p in payers):
        raise ConfigError(f"{path}: cfsf.approved_payers {words}")
    return frozenset(p.replace("-", "") for p in payers)


def _iris(path: Path, iris: object) -> tuple[str, tuple[str, ...]]:
    """The ``[iris]`` table: the schema package's folder (checked: an IRIS package) and the SoftwareIds."""
    from flows.io.iris_package import SchemaPackageError, message_xsd

    if not isinstance(iris, dict):
        raise ConfigError(f"{path}: [iris] must be a table")
    package = ""
    if "schema_package" in iris:
        folder = (path.parent / str(iris["schema_package"])).resolve()
        if not folder.is_dir():
            raise ConfigError(f"{path}: iris.schema_package is not a folder")
        try:
            message_xsd(folder)
        except SchemaPackageError:
            raise ConfigError(f"{path}: iris.schema_package holds no IRIS transmission schema") from None
        package = str(folder)
    ids = iris.get("software_id", [])
    ids = [ids] if isinstance(ids, str) else ids
    if not isinstance(ids, list) or not all(
        isinstance(i, str) and re.fullmatch(r"[0-9]{2}[A-Za-z0-9]{0,8}", i) for i in ids
    ):
        raise ConfigError(
            f"{path}: iris.software_id must be the IRS's SoftwareId (2 digits of the tax year, then letters or digits; 10 at most)"
        )
    return package, tuple(ids)
