//! Translations: every user-facing sentence is rendered here from `locales/<code>/*.ftl` (Project Fluent).

use std::{borrow::Cow, collections::HashMap};

use fluent_templates::{LanguageIdentifier, Loader, fluent_bundle::FluentValue, static_loader};

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

/// The locales the server ships, as BCP 47 codes.
pub const SUPPORTED_LOCALES: &[&str] = &["en"];

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
    "en".parse().expect("`en` is a valid language identifier")
}

/// The supported locale that `code` names, compared case-insensitively (`FR` → `fr`).
pub fn supported_locale(code: &str) -> Option<&'static str> {
    SUPPORTED_LOCALES
        .iter()
        .copied()
        .find(|supported| supported.eq_ignore_ascii_case(code.trim()))
}
