//! Locale-aware formatting with ICU4X: medium date and time in a zone, and currency amounts.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use icu_calendar::{Date, Gregorian};
use icu_datetime::{
    FixedCalendarDateTimeFormatter,
    fieldsets::YMDT,
    input::{DateTime as IcuDateTime, Time},
};
use icu_decimal::{DecimalFormatter, input::Decimal};
use icu_locale::{Locale, LocaleFallbacker};
use icu_provider_adapters::fallback::LocaleFallbackProvider;
use locale_data::Baked;

use super::{DEFAULT_LOCALE, SUPPORTED_LOCALES};
use crate::error::Message;

/// One formatter per shipped locale, built at start (building one loads and parses locale data).
pub struct Formatters {
    date_time: HashMap<&'static str, FixedCalendarDateTimeFormatter<Gregorian, YMDT>>,
    decimal: HashMap<&'static str, DecimalFormatter>,
}

/// The shipped locales' data (the `locale-data` crate) with ICU4X's locale fallback over it, as compiled data would
/// have it: a locale's data falls back to its root where CLDR keeps it only there (digits, some patterns).
fn shipped_data() -> anyhow::Result<LocaleFallbackProvider<Baked>> {
    let fallbacker = LocaleFallbacker::try_new_unstable(&Baked)
        .map_err(|error| anyhow::anyhow!("no locale fallback data: {error:?}"))?;
    Ok(LocaleFallbackProvider::new(Baked, fallbacker))
}

impl Formatters {
    pub fn new() -> anyhow::Result<Self> {
        let data = shipped_data()?;
        let mut date_time = HashMap::new();
        let mut decimal = HashMap::new();
        for (code, _) in SUPPORTED_LOCALES {
            let locale: Locale = code.parse()?;
            let formatter = FixedCalendarDateTimeFormatter::try_new_unstable(&data, (&locale).into(), YMDT::medium())
                .map_err(|error| anyhow::anyhow!("no date-time data for {code}: {error:?}"))?;
            date_time.insert(*code, formatter);
            let formatter = DecimalFormatter::try_new_unstable(&data, (&locale).into(), Default::default())
                .map_err(|error| anyhow::anyhow!("no number data for {code}: {error:?}"))?;
            decimal.insert(*code, formatter);
        }
        Ok(Self { date_time, decimal })
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

impl Formatters {
    /// An amount of US dollars in cents, e.g. en `$50.00`, fr `50,00 $US`. ICU4X formats the number (digits,
    /// separators); where the symbol goes is a translated pattern, because ICU4X's currency formatter is still
    /// experimental.
    pub fn usd(&self, locale: &str, cents: i64) -> String {
        let formatter = self
            .decimal
            .get(locale)
            .or_else(|| self.decimal.get(DEFAULT_LOCALE))
            .expect("the default locale has a formatter");
        let mut amount = Decimal::from(cents);
        amount.multiply_pow10(-2);
        amount.pad_end(-2);
        let amount = formatter.format(&amount).to_string();
        super::translate(locale, &Message::new("price-usd").arg("amount", amount))
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
        assert_eq!(
            normalise(formatters.date_time("es", instant, paris)),
            "21 ene 2020, 05:55:39"
        );
    }
}
