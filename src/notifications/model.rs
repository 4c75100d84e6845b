//! What a notification is made of, checked where it enters.

use crate::error::{AppError, Message};

/// A phone number as digits, optionally after a `+`: 7 to 15 digits (E.164's longest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(field: &str, text: &str) -> Result<Self, AppError> {
        let digits = text.strip_prefix('+').unwrap_or(text);
        if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(AppError::bad_input(field, Message::new("notification-phone-invalid")));
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The text sent: 1 to 1,000 characters, no control characters but line breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationText(String);

impl NotificationText {
    pub const MAX_CHARS: usize = 1000;

    pub fn parse(field: &str, text: &str) -> Result<Self, AppError> {
        let length = text.chars().count();
        if text.trim().is_empty() || length > Self::MAX_CHARS {
            return Err(AppError::bad_input(
                field,
                Message::new("notification-message-length").arg("max", Self::MAX_CHARS),
            ));
        }
        if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(AppError::bad_input(field, Message::new("notification-message-control")));
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_seven_to_fifteen_digits_after_an_optional_plus() {
        for good in ["4153518780", "+14153518780", "1234567", "123456789012345"] {
            assert!(PhoneNumber::parse("phoneNumber", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "+",
            "123456",
            "1234567890123456",
            "415-351-8780",
            "++4153518780",
            "４１５３５１８７８０",
            " 4153518780",
        ] {
            assert!(PhoneNumber::parse("phoneNumber", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn messages_are_one_to_a_thousand_characters() {
        assert!(NotificationText::parse("message", "This is the code 1234 to verify your account").is_ok());
        assert!(NotificationText::parse("message", &"é".repeat(1000)).is_ok());
        assert!(NotificationText::parse("message", &"é".repeat(1001)).is_err());
        assert!(NotificationText::parse("message", "   ").is_err());
        assert!(NotificationText::parse("message", "bell\u{7}").is_err());
    }
}
