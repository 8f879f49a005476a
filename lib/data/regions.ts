/**
 * Country name → region, through maintained data packages: i18n-iso-countries (English names and aliases → ISO
 * alpha-2) and countries-list (alpha-2 → continent). The United Kingdom is its own region, as in the paper.
 *
 * Countries on two continents take the package's primary continent (countries-list `continent`): Russia, Turkey,
 * Kazakhstan, Georgia, Azerbaijan and Armenia are Asia there, so they fall outside the paper's "Europe" region.
 * The paper does not publish its mapping; this is our documented choice and it follows the package.
 */
import type * as IsoCountries from 'i18n-iso-countries';
import type * as CountriesList from 'countries-list';

// Loaded on first use: i18n-iso-countries registers every language's names, which takes tens of milliseconds.
let iso: typeof IsoCountries | null = null;
let list: typeof CountriesList | null = null;
function packages(): { iso: typeof IsoCountries; list: typeof CountriesList } {
  iso ??= require('i18n-iso-countries') as typeof IsoCountries;
  list ??= require('countries-list') as typeof CountriesList;
  return { iso, list };
}

export const REGIONS = ['Europe', 'North America', 'South America', 'United Kingdom', 'Asia', 'Africa', 'Oceania', 'Antarctica'] as const;
export type Region = (typeof REGIONS)[number];

/**
 * Names Last.fm uses (ISO 3166 short names of the 2000s) that neither package resolves, mapped to an alpha-2 code.
 * Only names the lookups below cannot find belong here: historical entities (Netherlands Antilles, Serbia and
 * Montenegro, Yugoslavia) have no current code, so they map to a successor in the same continent; the rest are
 * older spellings of current countries.
 */
const ALIASES: Readonly<Record<string, string>> = {
  "korea, democratic people's republic of": 'KP',
  macedonia: 'MK',
  'macedonia, the former yugoslav republic of': 'MK',
  'iran, islamic republic of': 'IR',
  'tanzania, united republic of': 'TZ',
  'libyan arab jamahiriya': 'LY',
  'palestinian territory, occupied': 'PS',
  'viet nam': 'VN',
  swaziland: 'SZ',
  burma: 'MM',
  'east timor': 'TL',
  'netherlands antilles': 'CW',
  'serbia and montenegro': 'RS',
  yugoslavia: 'RS',
};

/** ISO alpha-2 code of a country name, or null when no lookup resolves it. */
export function countryCode(country: string): string | null {
  const name = country.trim();
  if (name === '') return null;
  const isoCountries = packages().iso;
  const direct = isoCountries.getAlpha2Code(name, 'en') ?? isoCountries.getSimpleAlpha2Code(name, 'en');
  if (direct) return direct;
  // ISO-style inverted names: "Congo, the Democratic Republic of the" → "Democratic Republic of the Congo".
  const comma = name.indexOf(',');
  if (comma > 0) {
    const inverted = `${name.slice(comma + 1).trim()} ${name.slice(0, comma).trim()}`.replace(/^the\s+/i, '');
    const code = isoCountries.getAlpha2Code(inverted, 'en') ?? isoCountries.getSimpleAlpha2Code(inverted, 'en');
    if (code) return code;
  }
  return ALIASES[name.toLowerCase()] ?? null;
}

/** The region of a country name ("United Kingdom" for the UK, else its continent), or null when unknown or empty. */
export function regionOfCountry(country: string): Region | null {
  const code = countryCode(country);
  if (!code) return null;
  if (code === 'GB') return 'United Kingdom';
  const { countries, continents } = packages().list;
  const entry = (countries as Record<string, { continent: keyof typeof continents }>)[code];
  if (!entry) return null;
  return continents[entry.continent] as Region;
}
