//! Account types that validate themselves: an `Email` or a `Password` that exists is a valid one.

use chrono::{DateTime, Utc};

use crate::error::{AppError, Message};

pub const PASSWORD_MIN_CHARS: usize = 8;
// Argon2 accepts any length; the cap keeps a hostile 1 MB password from costing a core for seconds.
pub const PASSWORD_MAX_CHARS: usize = 256;
pub const NAME_MAX_CHARS: usize = 100;
/// The longest address mail can be delivered to (RFC 5321's 256-octet path, less its angle brackets).
pub const EMAIL_MAX_CHARS: usize = 254;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Admin,
}

/// Who is making a request, as proven by a valid access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i32,
    pub role: Role,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The caller is `user_id` or an admin: who may read a user's private fields.
    pub fn can_see(&self, user_id: i32) -> bool {
        self.user_id == user_id || self.is_admin()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i32,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An email address, trimmed and lower-cased so that one mailbox is one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        if Self::too_long(raw) {
            return Err(AppError::bad_input(field, Message::new("account-email-invalid")));
        }
        let normalized = raw.trim().to_lowercase();
        let valid = email_address::EmailAddress::parse_with_options(
            &normalized,
            email_address::Options::default().without_display_text(),
        )
        .is_ok()
            && normalized
                .rsplit_once('@')
                .is_some_and(|(_, domain)| domain.contains('.'));
        if valid {
            Ok(Self(normalized))
        } else {
            Err(AppError::bad_input(field, Message::new("account-email-invalid")))
        }
    }

    /// Whether `raw` is longer than any address, found without reading further than the limit.
    pub fn too_long(raw: &str) -> bool {
        raw.trim().chars().nth(EMAIL_MAX_CHARS).is_some()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(field: &str, raw: String) -> Result<Self, AppError> {
        let chars = raw.chars().count();
        if chars < PASSWORD_MIN_CHARS {
            return Err(AppError::bad_input(
                field,
                Message::new("account-password-too-short").arg("min", PASSWORD_MIN_CHARS),
            ));
        }
        if chars > PASSWORD_MAX_CHARS {
            return Err(AppError::bad_input(
                field,
                Message::new("account-password-too-long").arg("max", PASSWORD_MAX_CHARS),
            ));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(AppError::bad_input(field, Message::new("account-name-empty")));
        }
        if trimmed.chars().count() > NAME_MAX_CHARS {
            return Err(AppError::bad_input(
                field,
                Message::new("account-name-too-long").arg("max", NAME_MAX_CHARS),
            ));
        }
        crate::text::check_plain(field, trimmed)?;
        Ok(Self(trimmed.to_string()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A locale the server can answer in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupportedLocale(String);

impl SupportedLocale {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        crate::i18n::supported_locale(raw)
            .map(|code| Self(code.to_string()))
            .ok_or_else(|| AppError::bad_input(field, Message::new("account-locale-unsupported").arg("value", raw)))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A valid IANA time-zone name, such as `Europe/Paris`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        raw.parse::<chrono_tz::Tz>()
            .map(|zone| Self(zone.name().to_string()))
            .map_err(|_| AppError::bad_input(field, Message::new("account-timezone-unknown").arg("value", raw)))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A validated registration.
#[derive(Debug)]
pub struct NewUser {
    pub email: Email,
    pub password: Password,
    pub name: DisplayName,
    pub role: Role,
    pub locale: Option<SupportedLocale>,
    pub timezone: Option<TimeZoneName>,
}

/// A validated change to the caller's own profile; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub name: Option<DisplayName>,
    pub locale: Option<SupportedLocale>,
    pub timezone: Option<TimeZoneName>,
}

/// Parses the raw fields of a registration; `field_prefix` names the input argument (`input`).
pub fn parse_new_user(
    field_prefix: &str,
    email: &str,
    password_raw: String,
    name: &str,
    role: Role,
    locale: Option<&str>,
    timezone: Option<&str>,
) -> Result<NewUser, AppError> {
    let field = |name: &str| format!("{field_prefix}{name}");
    Ok(NewUser {
        email: Email::parse(&field("email"), email)?,
        password: Password::parse(&field("password"), password_raw)?,
        name: DisplayName::parse(&field("name"), name)?,
        role,
        locale: locale
            .map(|code| SupportedLocale::parse(&field("locale"), code))
            .transpose()?,
        timezone: timezone
            .map(|zone| TimeZoneName::parse(&field("timezone"), zone))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("email", "  Ada@Example.COM ").expect("valid").as_str(),
            "ada@example.com"
        );
        for bad in ["", "ada", "ada@", "@example.com", "ada@localhost", "a b@example.com"] {
            assert!(Email::parse("email", bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn emails_longer_than_254_characters_are_refused() {
        let local = "a".repeat(64);
        // Labels of at most 63 characters, as DNS allows.
        let domain = |length: usize| {
            let mut domain = String::from("example.com");
            while domain.len() < length {
                let label = (length - domain.len() - 1).min(63);
                domain = format!("{}.{domain}", "b".repeat(label));
            }
            domain
        };
        let longest = format!("{local}@{}", domain(EMAIL_MAX_CHARS - 65));
        assert_eq!(longest.chars().count(), EMAIL_MAX_CHARS);
        assert!(Email::parse("email", &format!(" {longest} ")).is_ok());
        let over = format!("{local}@{}", domain(EMAIL_MAX_CHARS - 64));
        assert!(Email::too_long(&over));
        assert!(Email::parse("email", &over).is_err());
    }

    #[test]
    fn passwords_need_eight_characters() {
        assert!(Password::parse("password", "short".into()).is_err());
        assert!(Password::parse("password", "long enough".into()).is_ok());
        assert!(Password::parse("password", "x".repeat(PASSWORD_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn time_zones_must_be_iana_names() {
        assert_eq!(
            TimeZoneName::parse("timezone", "Europe/Paris")
                .expect("valid")
                .into_inner(),
            "Europe/Paris"
        );
        assert!(TimeZoneName::parse("timezone", "Mars/Olympus").is_err());
    }
}
