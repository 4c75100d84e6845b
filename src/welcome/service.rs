//! Builds the welcome message for a resolved locale and zone.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::{
    clock::Clock,
    error::Message,
    i18n::{self, DEFAULT_LOCALE, Formatters, SUPPORTED_LOCALES},
};

#[derive(Clone)]
pub struct WelcomeService {
    formatters: Arc<Formatters>,
    clock: Clock,
    /// Per shipped locale, in `SUPPORTED_LOCALES` order, rendered at start: these texts depend on the locale alone.
    texts: Arc<[Arc<LocaleTexts>]>,
    /// The formatted current time per locale and zone, for the second it was formatted in. Like an HTTP server's
    /// `Date` header: under load most welcomes in one second share a locale and zone, and formatting (ICU4X's
    /// pattern walk and the allocation) was about 7 % of a welcome's instructions. Bounded by locales × zones.
    recent_times: Arc<Mutex<RecentTimes>>,
}

/// Per (locale, zone): the Unix second last formatted, and its text.
type RecentTimes = HashMap<(&'static str, Tz), (i64, Arc<str>)>;

pub struct LocaleTexts {
    pub title: String,
    pub greeting: String,
    not_logged_in: Arc<str>,
}

#[derive(Clone)]
pub struct Welcome {
    pub locale: &'static str,
    pub timezone: Tz,
    pub texts: Arc<LocaleTexts>,
    pub logged_in_as: Arc<str>,
    pub now: DateTime<Utc>,
    pub formatted_now: Arc<str>,
}

impl WelcomeService {
    pub fn new(formatters: Arc<Formatters>, clock: Clock) -> Self {
        let texts = SUPPORTED_LOCALES
            .iter()
            .map(|(locale, _)| {
                let texts = LocaleTexts {
                    title: i18n::translate(locale, &Message::new("welcome-title")),
                    greeting: i18n::translate(locale, &Message::new("welcome-greeting")),
                    not_logged_in: i18n::translate(locale, &Message::new("welcome-not-logged-in")).into(),
                };
                Arc::new(texts)
            })
            .collect();
        Self {
            formatters,
            clock,
            texts,
            recent_times: Arc::default(),
        }
    }

    pub fn formatters(&self) -> &Formatters {
        &self.formatters
    }

    pub fn welcome(&self, locale: &'static str, timezone: Tz, user_name: Option<&str>) -> Welcome {
        let index = i18n::shipped_index(locale)
            .or_else(|| i18n::shipped_index(DEFAULT_LOCALE))
            .expect("the default locale is shipped");
        let texts = self.texts[index].clone();
        let logged_in_as = match user_name {
            Some(name) => i18n::translate(locale, &Message::new("welcome-logged-in-as").arg("name", name)).into(),
            None => texts.not_logged_in.clone(),
        };
        let now = (self.clock)();
        Welcome {
            locale,
            timezone,
            texts,
            logged_in_as,
            now,
            formatted_now: self.formatted_time(locale, timezone, now),
        }
    }

    fn formatted_time(&self, locale: &'static str, zone: Tz, instant: DateTime<Utc>) -> Arc<str> {
        // The medium format shows whole seconds, so the second is all of the instant the text depends on.
        let second = instant.timestamp();
        let mut recent = self
            .recent_times
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((formatted_second, text)) = recent.get(&(locale, zone))
            && *formatted_second == second
        {
            return text.clone();
        }
        let text: Arc<str> = self.formatters.date_time(locale, instant, zone).into();
        recent.insert((locale, zone), (second, text.clone()));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::fixed_clock;

    fn service_at(instant: &str) -> WelcomeService {
        let instant = DateTime::parse_from_rfc3339(instant).expect("instant").to_utc();
        WelcomeService::new(Arc::new(Formatters::new().expect("data")), fixed_clock(instant))
    }

    #[test]
    fn the_formatted_time_follows_the_instant_locale_and_zone_not_the_previous_answer() {
        let service = service_at("2020-01-21T04:55:39Z");
        let paris = chrono_tz::Europe::Paris;
        let chicago = chrono_tz::America::Chicago;
        let normalise = |text: Arc<str>| text.replace('\u{202f}', " ");
        let at = |text: &str| DateTime::parse_from_rfc3339(text).expect("instant").to_utc();

        assert_eq!(
            normalise(service.welcome("fr", paris, None).formatted_now),
            "21 janv. 2020, 05:55:39"
        );
        assert_eq!(
            normalise(service.welcome("en", paris, None).formatted_now),
            "Jan 21, 2020, 5:55:39 AM"
        );
        assert_eq!(
            normalise(service.welcome("fr", chicago, None).formatted_now),
            "20 janv. 2020, 22:55:39"
        );
        assert_eq!(
            normalise(service.formatted_time("fr", paris, at("2020-01-21T04:55:40Z"))),
            "21 janv. 2020, 05:55:40"
        );
        // Within the cached second, a later instant of the same second reads the same text.
        assert_eq!(
            normalise(service.formatted_time("fr", paris, at("2020-01-21T04:55:40.900Z"))),
            "21 janv. 2020, 05:55:40"
        );
    }

    #[test]
    fn texts_are_in_the_asked_locale_and_name_the_caller() {
        let service = service_at("2020-01-21T04:55:39Z");
        let utc = chrono_tz::UTC;
        let french = service.welcome("fr", utc, Some("Ada"));
        assert_eq!(french.texts.title, "Bienvenue sur alx-backend");
        assert_eq!(&*french.logged_in_as, "Vous êtes connecté en tant que Ada.");
        assert_eq!(service.welcome("en", utc, None).texts.greeting, "Hello, world!");
        assert_eq!(
            &*service.welcome("es", utc, None).logged_in_as,
            "No ha iniciado sesión."
        );
        assert_eq!(service.welcome("xx", utc, None).texts.title, "Welcome to alx-backend");
    }
}
