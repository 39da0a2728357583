"""Countries as the IRS codes them: ISO 3166-1 alpha-2 (the extract's ``country``, docs/spec/extract.md) to the
IRS's country code (IRIS ``CountryType``).

The IRS's list is not ISO 3166: it follows the older FIPS 10-4 codes, so the same two letters can
name another country ("GB" is Gabon there, the United Kingdom is "UK"; "DE" is not a code at all,
Germany is "GM"). The authority is the IRS's IRIS A2A schema package, ``COMMON/IRS-IRefileTypes.xsd``,
``CountryType`` (TY2025 v1.2): every code below is one of its values, with the country name it
documents beside it (``tests/irs/test_iris_schema.py`` proves both against the package).

Project choices (docs/CONVENTIONS.md): the IRS list has no entry of its own for French Guiana,
Guadeloupe, Martinique, Reunion and Mayotte (overseas departments of France: FR), the Caribbean
Netherlands (NL) and the Aland Islands (FI); it has none for the United States Minor Outlying Islands
as one place (UM: one of nine IRS codes, unknown which) nor for Palestine (PS): those two, and any
code not below, cannot be written — a blocking problem on the form. The U.S. possessions (PR, GU, VI,
AS, MP) are U.S. addresses in prorata (``transforms.irs.shared.DOMESTIC_COUNTRIES``); their IRS codes
are here for completeness.
"""

from __future__ import annotations

#: ISO 3166-1 alpha-2 → IRS country code (IRIS CountryType), the IRS's country name in the comment.
IRS_COUNTRY_CODE: dict[str, str] = {
    "AF": "AF",  # Afghanistan
    "AX": "FI",  # Finland
    "AL": "AL",  # Albania
    "DZ": "AG",  # Algeria
    "AS": "AQ",  # American Samoa
    "AD": "AN",  # Andorra
    "AO": "AO",  # Angola
    "AI": "AV",  # Anguilla
    "AQ": "AY",  # Antarctica
    "AG": "AC",  # Antigua and Barbuda
    "AR": "AR",  # Argentina
    "AM": "AM",  # Armenia
    "AW": "AA",  # Aruba
    "AU": "AS",  # Australia
    "AT": "AU",  # Austria
    "AZ": "AJ",  # Azerbaijan
    "BS": "BF",  # Bahamas
    "BH": "BA",  # Bahrain
    "BD": "BG",  # Bangladesh
    "BB": "BB",  # Barbados
    "BY": "BO",  # Belarus
    "BE": "BE",  # Belgium
    "BZ": "BH",  # Belize
    "BJ": "BN",  # Benin
    "BM": "BD",  # Bermuda
    "BT": "BT",  # Bhutan
    "BO": "BL",  # Bolivia
    "BQ": "NL",  # Netherlands
    "BA": "BK",  # Bosnia-Herzegovina
    "BW": "BC",  # Botswana
    "BV": "BV",  # Bouvet Island
    "BR": "BR",  # Brazil
    "IO": "IO",  # British Indian Ocean Territory
    "VG": "VI",  # British Virgin Islands
    "BN": "BX",  # Brunei
    "BG": "BU",  # Bulgaria
    "BF": "UV",  # Burkina Faso
    "MM": "BM",  # Burma
    "BI": "BY",  # Burundi
    "KH": "CB",  # Cambodia
    "CM": "CM",  # Cameroon
    "CA": "CA",  # Canada
    "CV": "CV",  # Cape Verde
    "KY": "CJ",  # Cayman Islands
    "CF": "CT",  # Central African Republic
    "TD": "CD",  # Chad
    "CL": "CI",  # Chile
    "CN": "CH",  # China
    "CX": "KT",  # Christmas Island
    "CC": "CK",  # Cocos (Keeling) Islands
    "CO": "CO",  # Colombia
    "KM": "CN",  # Comoros
    "CG": "CF",  # Congo (Brazzaville)
    "CD": "CG",  # Congo (Kinshasa)
    "CK": "CW",  # Cook Islands
    "CR": "CS",  # Costa Rica
    "CI": "IV",  # Cote D'Ivoire (Ivory Coast)
    "HR": "HR",  # Croatia
    "CU": "CU",  # Cuba
    "CW": "UC",  # Curacao
    "CY": "CY",  # Cyprus
    "CZ": "EZ",  # Czech Republic
    "DK": "DA",  # Denmark
    "DJ": "DJ",  # Djibouti
    "DM": "DO",  # Dominica
    "DO": "DR",  # Dominican Republic
    "TL": "TT",  # East Timor
    "EC": "EC",  # Ecuador
    "EG": "EG",  # Egypt
    "SV": "ES",  # El Salvador
    "GQ": "EK",  # Equatorial Guinea
    "ER": "ER",  # Eritrea
    "EE": "EN",  # Estonia
    "ET": "ET",  # Ethiopia
    "FK": "FK",  # Falkland Islands (Islas Malvinas)
    "FO": "FO",  # Faroe Islands
    "FM": "FM",  # Federated States of Micronesia
    "FJ": "FJ",  # Fiji
    "FI": "FI",  # Finland
    "FR": "FR",  # France
    "GF": "FR",  # France
    "PF": "FP",  # French Polynesia
    "TF": "FS",  # French Southern and Antarctic Lands
    "GA": "GB",  # Gabon
    "GM": "GA",  # The Gambia
    "GE": "GG",  # Georgia
    "DE": "GM",  # Germany
    "GH": "GH",  # Ghana
    "GI": "GI",  # Gibraltar
    "GR": "GR",  # Greece
    "GL": "GL",  # Greenland
    "GD": "GJ",  # Grenada
    "GP": "FR",  # France
    "GU": "GQ",  # Guam
    "GT": "GT",  # Guatemala
    "GG": "GK",  # Guernsey
    "GN": "GV",  # Guinea
    "GW": "PU",  # Guinea-Bissau
    "GY": "GY",  # Guyana
    "HT": "HA",  # Haiti
    "HM": "HM",  # Heard Island and McDonald Islands
    "VA": "VT",  # Holy See
    "HN": "HO",  # Honduras
    "HK": "HK",  # Hong Kong
    "HU": "HU",  # Hungary
    "IS": "IC",  # Iceland
    "IN": "IN",  # India
    "ID": "ID",  # Indonesia
    "IR": "IR",  # Iran
    "IQ": "IZ",  # Iraq
    "IE": "EI",  # Ireland
    "IL": "IS",  # Israel
    "IT": "IT",  # Italy
    "JM": "JM",  # Jamaica
    "JP": "JA",  # Japan
    "JE": "JE",  # Jersey
    "JO": "JO",  # Jordan
    "KZ": "KZ",  # Kazakhstan
    "KE": "KE",  # Kenya
    "KI": "KR",  # Kiribati
    "KP": "KN",  # Korea, Democratic People's Republic of (North)
    "KR": "KS",  # Korea, Republic of (South)
    "XK": "KV",  # Kosovo
    "KW": "KU",  # Kuwait
    "KG": "KG",  # Kyrgyzstan
    "LA": "LA",  # Laos
    "LV": "LG",  # Latvia
    "LB": "LE",  # Lebanon
    "LS": "LT",  # Lesotho
    "LR": "LI",  # Liberia
    "LY": "LY",  # Libya
    "LI": "LS",  # Liechtenstein
    "LT": "LH",  # Lithuania
    "LU": "LU",  # Luxembourg
    "MO": "MC",  # Macau
    "MK": "MK",  # Macedonia
    "MG": "MA",  # Madagascar
    "MW": "MI",  # Malawi
    "MY": "MY",  # Malaysia
    "MV": "MV",  # Maldives
    "ML": "ML",  # Mali
    "MT": "MT",  # Malta
    "IM": "IM",  # Man, Isle of
    "MH": "RM",  # Marshall Islands
    "MQ": "FR",  # France
    "MR": "MR",  # Mauritania
    "MU": "MP",  # Mauritius
    "YT": "FR",  # France
    "MX": "MX",  # Mexico
    "MD": "MD",  # Moldova
    "MC": "MN",  # Monaco
    "MN": "MG",  # Mongolia
    "ME": "MJ",  # Montenegro
    "MS": "MH",  # Montserrat
    "MA": "MO",  # Morocco
    "MZ": "MZ",  # Mozambique
    "NA": "WA",  # Namibia
    "NR": "NR",  # Nauru
    "NP": "NP",  # Nepal
    "NL": "NL",  # Netherlands
    "NC": "NC",  # New Caledonia
    "NZ": "NZ",  # New Zealand
    "NI": "NU",  # Nicaragua
    "NE": "NG",  # Niger
    "NG": "NI",  # Nigeria
    "NU": "NE",  # Niue
    "NF": "NF",  # Norfolk Island
    "MP": "CQ",  # Northern Mariana Islands
    "NO": "NO",  # Norway
    "OM": "MU",  # Oman
    "PK": "PK",  # Pakistan
    "PW": "PS",  # Palau
    "PA": "PM",  # Panama
    "PG": "PP",  # Papua-New Guinea
    "PY": "PA",  # Paraguay
    "PE": "PE",  # Peru
    "PH": "RP",  # Philippines
    "PN": "PC",  # Pitcairn Islands
    "PL": "PL",  # Poland
    "PT": "PO",  # Portugal
    "PR": "RQ",  # Puerto Rico
    "QA": "QA",  # Qatar
    "RE": "FR",  # France
    "RO": "RO",  # Romania
    "RU": "RS",  # Russia
    "RW": "RW",  # Rwanda
    "BL": "TB",  # Saint Barthelemy
    "MF": "RN",  # Saint Martin
    "WS": "WS",  # Samoa
    "SM": "SM",  # San Marino
    "ST": "TP",  # Sao Tome and Principe
    "SA": "SA",  # Saudi Arabia
    "SN": "SG",  # Senegal
    "RS": "RI",  # Serbia
    "SC": "SE",  # Seychelles
    "SL": "SL",  # Sierra Leone
    "SG": "SN",  # Singapore
    "SX": "NN",  # Sint Maarten
    "SK": "LO",  # Slovakia
    "SI": "SI",  # Slovenia
    "SB": "BP",  # Solomon Islands
    "SO": "SO",  # Somalia
    "ZA": "SF",  # South Africa
    "GS": "SX",  # South Georgia and the South Sandwich Islands
    "SS": "OD",  # South Sudan
    "ES": "SP",  # Spain
    "LK": "CE",  # Sri Lanka
    "SH": "SH",  # St. Helena
    "KN": "SC",  # St. Kitts and Nevis
    "LC": "ST",  # St. Lucia Island
    "PM": "SB",  # St. Pierre and Miquelon
    "VC": "VC",  # St. Vincent and the Grenadines
    "SD": "SU",  # Sudan
    "SR": "NS",  # Suriname
    "SJ": "SV",  # Svalbard
    "SZ": "WZ",  # Swaziland
    "SE": "SW",  # Sweden
    "CH": "SZ",  # Switzerland
    "SY": "SY",  # Syria
    "TW": "TW",  # Taiwan
    "TJ": "TI",  # Tajikistan
    "TZ": "TZ",  # Tanzania
    "TH": "TH",  # Thailand
    "TG": "TO",  # Togo
    "TK": "TL",  # Tokelau
    "TO": "TN",  # Tonga
    "TT": "TD",  # Trinidad and Tobago
    "TN": "TS",  # Tunisia
    "TR": "TU",  # Turkey
    "TM": "TX",  # Turkmenistan
    "TC": "TK",  # Turks and Caicos Islands
    "TV": "TV",  # Tuvalu
    "UG": "UG",  # Uganda
    "UA": "UP",  # Ukraine
    "AE": "AE",  # United Arab Emirates
    "GB": "UK",  # United Kingdom (England, Northern Ireland, Scotland, and Wales)
    "UY": "UY",  # Uruguay
    "UZ": "UZ",  # Uzbekistan
    "VU": "NH",  # Vanuatu
    "VE": "VE",  # Venezuela
    "VN": "VM",  # Vietnam
    "VI": "VQ",  # Virgin Islands
    "WF": "WF",  # Wallis and Futuna
    "EH": "WI",  # Western Sahara
    "YE": "YM",  # Yemen (Aden)
    "ZM": "ZA",  # Zambia
    "ZW": "ZI",  # Zimbabwe
}
