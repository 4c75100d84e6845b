//! Internationalisation, pure and database-free: Fluent translations (`locales/<code>/*.ftl`), locale and
//! time-zone negotiation, and ICU4X formatting. Bundles and formatters are built once, never per request.

mod format;
mod negotiate;

use std::{borrow::Cow, collections::HashMap};

use fluent_templates::{fluent_bundle::FluentValue, static_loader};

pub use format::Formatters;
pub use negotiate::{
    first_supported, first_time_zone, negotiate_accept_language, parse_time_zone, resolve_locale, resolve_time_zone,
    supported_locale,
};

use crate::error::Message;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The locale of last resort, and the one server logs use.
pub const DEFAULT_LOCALE: &str = "en";

/// The locales the server ships, as BCP 47 codes, with their names in their own language.
/// Adding one is a folder under `locales/` plus a line here.
pub const SUPPORTED_LOCALES: &[(&str, &str)] = &[("en", "English"), ("fr", "Français"), ("es", "Español")];

/// Renders `message` in `locale` (a supported BCP 47 code), falling back to English for a missing translation.
pub fn translate(locale: &str, message: &Message) -> String {
    translate_id(
        locale,
        message.id,
        message
            .args
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone())),
    )
}

/// Where `code` stands in `SUPPORTED_LOCALES`, for tables kept per shipped locale.
pub fn shipped_index(code: &str) -> Option<usize> {
    SUPPORTED_LOCALES.iter().position(|(shipped, _)| *shipped == code)
}

/// Renders the message `id` with `args`; an unknown id renders as itself, which the catalogue test forbids.
pub fn translate_id(locale: &str, id: &str, args: impl IntoIterator<Item = (String, String)>) -> String {
    let args: HashMap<Cow<'static, str>, FluentValue<'static>> = args
        .into_iter()
        .map(|(name, value)| (Cow::Owned(name), FluentValue::from(value)))
        .collect();
    let args = (!args.is_empty()).then_some(&args);
    // `locale` is already one of ours (negotiated once per request), so the lookup goes straight to its parsed
    // identifier's bundle, then to English. Parsing the code and fluent-templates' `lookup`, which negotiates again
    // on every call, were about half the cost of a translation.
    let language = shipped_index(locale).map_or_else(|| LOCALES.fallback(), |index| &negotiate::AVAILABLE[index]);
    LOCALES
        .lookup_single_language(language, id, args)
        .or_else(|_| LOCALES.lookup_single_language(LOCALES.fallback(), id, args))
        .unwrap_or_else(|_| id.to_string())
}
