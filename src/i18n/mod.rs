//! Internationalisation, pure and database-free: Fluent translations (`locales/<code>/*.ftl`), locale and
//! time-zone negotiation, and ICU4X formatting. Bundles and formatters are built once, never per request.

mod format;
mod negotiate;

use std::{borrow::Cow, collections::HashMap};

use fluent_templates::{LanguageIdentifier, Loader, fluent_bundle::FluentValue, static_loader};

pub use format::Formatters;
pub use negotiate::{first_supported, first_time_zone, negotiate_accept_language, parse_time_zone, supported_locale};

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

/// Renders the message `id` with `args`; an unknown id renders as itself, which the catalogue test forbids.
pub fn translate_id(locale: &str, id: &str, args: impl IntoIterator<Item = (String, String)>) -> String {
    let language: LanguageIdentifier = locale.parse().unwrap_or_else(|_| fallback());
    let args: HashMap<Cow<'static, str>, FluentValue<'static>> = args
        .into_iter()
        .map(|(name, value)| (Cow::Owned(name), FluentValue::from(value)))
        .collect();
    LOCALES
        .try_lookup_with_args(&language, id, &args)
        .unwrap_or_else(|| id.to_string())
}

fn fallback() -> LanguageIdentifier {
    DEFAULT_LOCALE.parse().expect("`en` is a valid language identifier")
}
