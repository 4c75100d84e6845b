//! Builds the welcome message for a resolved locale and zone.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::{
    clock::Clock,
    error::Message,
    i18n::{self, Formatters},
};

#[derive(Clone)]
pub struct WelcomeService {
    formatters: Arc<Formatters>,
    clock: Clock,
}

#[derive(Clone, Debug)]
pub struct Welcome {
    pub locale: &'static str,
    pub timezone: chrono_tz::Tz,
    pub title: String,
    pub greeting: String,
    pub logged_in_as: String,
    pub now: DateTime<Utc>,
    pub formatted_now: String,
}

impl WelcomeService {
    pub fn new(formatters: Arc<Formatters>, clock: Clock) -> Self {
        Self { formatters, clock }
    }

    pub fn formatters(&self) -> &Formatters {
        &self.formatters
    }

    pub fn welcome(&self, locale: &'static str, timezone: chrono_tz::Tz, user_name: Option<&str>) -> Welcome {
        let now = (self.clock)();
        let logged_in_as = match user_name {
            Some(name) => Message::new("welcome-logged-in-as").arg("name", name),
            None => Message::new("welcome-not-logged-in"),
        };
        Welcome {
            locale,
            timezone,
            title: i18n::translate(locale, &Message::new("welcome-title")),
            greeting: i18n::translate(locale, &Message::new("welcome-greeting")),
            logged_in_as: i18n::translate(locale, &logged_in_as),
            now,
            formatted_now: self.formatters.date_time(locale, now, timezone),
        }
    }
}
