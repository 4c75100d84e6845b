//! Choosing a supported locale from what a client asks for, and validating IANA time zones.

use std::sync::LazyLock;

use fluent_langneg::{NegotiationStrategy, negotiate_languages};
use fluent_templates::LanguageIdentifier;

use super::SUPPORTED_LOCALES;

/// `SUPPORTED_LOCALES` parsed, in the same order.
pub(super) static AVAILABLE: LazyLock<Vec<LanguageIdentifier>> = LazyLock::new(|| {
    SUPPORTED_LOCALES
        .iter()
        .map(|(code, _)| code.parse().expect("supported locales are valid identifiers"))
        .collect()
});

fn as_static(language: &LanguageIdentifier) -> Option<&'static str> {
    let code = language.to_string();
    SUPPORTED_LOCALES
        .iter()
        .map(|(supported, _)| *supported)
        .find(|supported| *supported == code)
}

/// The supported locale that `code` names, case-insensitively and with region fallback (`FR-ca` → `fr`).
pub fn supported_locale(code: &str) -> Option<&'static str> {
    // Most clients send a shipped code exactly; only the rest need parsing and negotiation.
    if let Some((exact, _)) = SUPPORTED_LOCALES.iter().find(|(supported, _)| *supported == code) {
        return Some(exact);
    }
    let requested: LanguageIdentifier = code.trim().parse().ok()?;
    negotiate_languages(&[requested], &AVAILABLE, None, NegotiationStrategy::Lookup)
        .first()
        .and_then(|language| as_static(language))
}

/// The best supported match for an `Accept-Language` header, honouring q-values; `None` when nothing matches.
pub fn negotiate_accept_language(header: &str) -> Option<&'static str> {
    // fluent-langneg reads only the order of the list, so the `accept-language` crate sorts it by weight first.
    let requested: Vec<LanguageIdentifier> = accept_language::parse(header)
        .iter()
        .filter_map(|tag| tag.parse().ok())
        .collect();
    negotiate_languages(&requested, &AVAILABLE, None, NegotiationStrategy::Lookup)
        .first()
        .and_then(|language| as_static(language))
}

/// The first candidate that names a supported locale; unsupported ones are skipped, not errors.
pub fn first_supported<'a>(candidates: impl IntoIterator<Item = Option<&'a str>>) -> Option<&'static str> {
    candidates.into_iter().flatten().find_map(supported_locale)
}

/// The first candidate that names a valid IANA zone; invalid ones are skipped, not errors.
pub fn first_time_zone<'a>(candidates: impl IntoIterator<Item = Option<&'a str>>) -> Option<chrono_tz::Tz> {
    candidates.into_iter().flatten().find_map(parse_time_zone)
}

/// The contract's locale chain, written once for every transport: what the request itself asks for (`?locale=`,
/// or a WebSocket's `connection_init`) → the caller's saved locale → `Accept-Language` → the default.
pub fn resolve_locale(
    requested: Option<&str>,
    saved: Option<&str>,
    accept_language: Option<&str>,
    default: &'static str,
) -> &'static str {
    first_supported([requested, saved])
        .or_else(|| accept_language.and_then(negotiate_accept_language))
        .unwrap_or(default)
}

/// The zone chain: what the request asks for → the caller's saved zone → UTC; invalid names are skipped.
pub fn resolve_time_zone(requested: Option<&str>, saved: Option<&str>) -> chrono_tz::Tz {
    first_time_zone([requested, saved]).unwrap_or(chrono_tz::UTC)
}

/// A valid IANA zone name, such as `Europe/Paris`; anything else is `None`.
pub fn parse_time_zone(name: &str) -> Option<chrono_tz::Tz> {
    name.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_codes_fall_back_from_region_to_language() {
        assert_eq!(supported_locale("fr"), Some("fr"));
        assert_eq!(supported_locale("FR-ca"), Some("fr"));
        assert_eq!(supported_locale("de"), None);
        assert_eq!(supported_locale("not a locale"), None);
    }

    #[test]
    fn accept_language_honours_weights_and_skips_unsupported_entries() {
        assert_eq!(negotiate_accept_language("de-DE, fr-CA;q=0.8, en;q=0.5"), Some("fr"));
        assert_eq!(negotiate_accept_language("en;q=0.2, es;q=0.9"), Some("es"));
        assert_eq!(negotiate_accept_language("de, ja"), None);
        assert_eq!(negotiate_accept_language(""), None);
    }

    #[test]
    fn only_iana_zones_are_time_zones() {
        assert!(parse_time_zone("America/Chicago").is_some());
        assert!(parse_time_zone("Central Time").is_none());
    }
}
