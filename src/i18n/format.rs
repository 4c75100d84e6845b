//! Locale-aware formatting with ICU4X: medium date and time in a zone, and currency amounts.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use icu_calendar::{Date, Gregorian};
use icu_datetime::{
    FixedCalendarDateTimeFormatter,
    fieldsets::YMDT,
    input::{DateTime as IcuDateTime, Time},
};
use icu_locale_core::Locale;

use super::{DEFAULT_LOCALE, SUPPORTED_LOCALES};

/// One formatter per shipped locale, built at start (building one loads and parses locale data).
pub struct Formatters {
    date_time: HashMap<&'static str, FixedCalendarDateTimeFormatter<Gregorian, YMDT>>,
}

impl Formatters {
    pub fn new() -> anyhow::Result<Self> {
        let mut date_time = HashMap::new();
        for (code, _) in SUPPORTED_LOCALES {
            let locale: Locale = code.parse()?;
            let formatter = FixedCalendarDateTimeFormatter::try_new(locale.into(), YMDT::medium())
                .map_err(|error| anyhow::anyhow!("no date-time data for {code}: {error:?}"))?;
            date_time.insert(*code, formatter);
        }
        Ok(Self { date_time })
    }

    /// `instant` as wall-clock time in `zone`, medium date and medium time (en `Jan 21, 2020, 5:55:39 AM`).
    pub fn date_time(&self, locale: &str, instant: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
        let local = instant.with_timezone(&zone);
        let formatter = self
            .date_time
            .get(locale)
            .or_else(|| self.date_time.get(DEFAULT_LOCALE))
            .expect("the default locale has a formatter");
        let date = Date::try_new_gregorian(local.year(), local.month() as u8, local.day() as u8);
        let time = Time::try_new(local.hour() as u8, local.minute() as u8, local.second() as u8, 0);
        match (date, time) {
            (Ok(date), Ok(time)) => formatter.format(&IcuDateTime { date, time }).to_string(),
            _ => local.to_rfc3339(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_medium_date_and_time_in_the_zone_and_locale() {
        let formatters = Formatters::new().expect("data");
        let instant = DateTime::parse_from_rfc3339("2020-01-21T04:55:39Z")
            .expect("instant")
            .to_utc();
        let paris = chrono_tz::Europe::Paris;
        let normalise = |text: String| text.replace('\u{202f}', " ");
        assert_eq!(
            normalise(formatters.date_time("en", instant, paris)),
            "Jan 21, 2020, 5:55:39 AM"
        );
        assert_eq!(
            normalise(formatters.date_time("fr", instant, paris)),
            "21 janv. 2020, 05:55:39"
        );
    }
}
