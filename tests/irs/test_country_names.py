"""The IRS's country names: the table is the IRS schema package's, code for code."""

from pathlib import Path

from lxml import etree

from transforms.irs.country_names import IRS_COUNTRY_NAME, country_name

XSD = (
    Path(__file__).parents[1]
    / "data"
    / "iris-a2a-ty2025-v1.2"
    / "IRIS A2A INTAKE XML LIBRARY 2025"
    / "COMMON"
    / "IRS-IRefileTypes.xsd"
)


def test_every_irs_country_code_has_the_name_the_schema_package_documents():
    ns = {"xsd": "http://www.w3.org/2001/XMLSchema"}
    country_type = etree.parse(str(XSD)).find(".//xsd:simpleType[@name='CountryType']", ns)
    documented = {
        e.get("value"): e.find(".//xsd:documentation", ns).text.strip()
        for e in country_type.findall(".//xsd:enumeration", ns)
    }
    assert documented == IRS_COUNTRY_NAME


def test_an_address_carries_the_name_without_the_irs_parenthesis():
    assert country_name("UK") == "United Kingdom"
    assert country_name("GB") == "Gabon"  # the IRS's GB is not ISO's
    assert country_name("CA") == "Canada"
    assert country_name("ZZ") is None
