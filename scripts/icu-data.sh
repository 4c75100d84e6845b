#!/usr/bin/env bash
# Regenerates locale-data/src/data: ICU4X data for the shipped locales only (en, fr, es and their root `und`) and
# only the markers the formatters in src/i18n/format.rs load, plus the likely-subtags and parent data that locale
# fallback reads. Run it after adding a locale (keep LOCALES in step with SUPPORTED_LOCALES in src/i18n/mod.rs)
# or after moving to a new ICU4X minor version.
#
# The data has to come from the CLDR release the ICU4X crates were built against (ICU4X 2.4: CLDR 49) and be
# baked by icu4x-datagen of the same minor version: ICU4X promises its `*_unstable` constructors only for data
# generated for that version. CLDR 49 JSON is not on the npm registry (48.2 is its newest, which datagen 2.4
# rejects) and GitHub is out of reach here, so the CLDR JSON comes from the crates.io package
# icu_provider_source 2.4.0, which carries CLDR 49 cldr-json files for en, fr, es, und and a few more locales.
#
# Needs cargo and icu4x-datagen 2.4 (`cargo install icu4x-datagen --version 2.4.0 --locked`, or ICU4X_DATAGEN).
set -euo pipefail
icu4x_version="2.4.0"
LOCALES=(^en ^fr ^es) # ^xx: the locale and its ancestors, without its sub-locales
MARKERS=(
  # FixedCalendarDateTimeFormatter<Gregorian, YMDT> with YMDT::medium() (found with datagen --markers-for-bin)
  DatetimePatternsDateGregorianV1 DatetimePatternsTimeV1 DatetimePatternsGlueV1
  DatetimeNamesYearGregorianV1 DatetimeNamesMonthGregorianV1 DatetimeNamesDayperiodV1
  # DecimalFormatter, also behind the digits of dates
  DecimalSymbolsV1 DecimalDigitsV1
  # LocaleFallbacker: the data is exported without ICU4X's internal fallback, so no icu_*_data crate is linked
  LocaleLikelySubtagsLanguageV1 LocaleParentsV1
)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
datagen="${ICU4X_DATAGEN:-icu4x-datagen}"
found="$("$datagen" --version 2>/dev/null | awk '{ print $2 }')" || true
if [[ "$found" != "$icu4x_version" ]]; then
  echo "need icu4x-datagen $icu4x_version (found '${found:-none}'): cargo install icu4x-datagen --version $icu4x_version --locked" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A throwaway package makes cargo fetch icu_provider_source and say where it unpacked it.
mkdir -p "$work/src" && : > "$work/src/lib.rs"
cat > "$work/Cargo.toml" <<TOML
[package]
name = "fetch-cldr"
version = "0.0.0"
edition = "2024"
[dependencies]
icu_provider_source = { version = "=$icu4x_version", default-features = false }
TOML
manifest="$(cargo metadata --quiet --format-version 1 --manifest-path "$work/Cargo.toml" |
  python3 -c 'import json, sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "icu_provider_source"))')"
cldr="$(dirname "$manifest")/tests/data/cldr"
grep -q '"_cldrVersion": "49"' "$cldr/cldr-core/supplemental/likelySubtags.json" || { echo "$cldr is not CLDR 49" >&2; exit 1; }

"$datagen" --format baked --use-separate-crates --pretty --no-internal-fallback --deduplication maximal \
  --cldr-root "$cldr" --locales "${LOCALES[@]}" --markers "${MARKERS[@]}" \
  --overwrite --out "$root/locale-data/src/data"
echo "wrote $root/locale-data/src/data"
