//! The rule every free-text input shares: no control characters; and the shape of a name (products, events).
//!
//! PostgreSQL refuses U+0000 in text (an internal error, logged once per occurrence) where SQLite stores it, and
//! the other control characters only garble what a reader or a log line shows. None of our text fields (names,
//! filters, cursor values) has a use for tabs or line breaks either, so the rule has no exceptions. Format
//! characters (Cf: joiners, direction marks) are not controls and stay: emoji and right-to-left names need them.
//! It lives here rather than in `error.rs`, which defines what errors are, because four domains' models call it.

use crate::error::{AppError, Message};

/// Whether `text` is free of control characters (Unicode category Cc: C0, DEL and C1).
pub fn is_plain(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// A product's or an event's name: trimmed, 1 to 200 characters, plain; `empty_message` on `field` otherwise.
pub fn name(field: &str, raw: &str, empty_message: &'static str) -> Result<String, AppError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 {
        return Err(AppError::bad_input(field, Message::new(empty_message)));
    }
    check_plain(field, trimmed)?;
    Ok(trimmed.to_string())
}

/// `BAD_USER_INPUT` on `field` when `text` holds a control character.
pub fn check_plain(field: &str, text: &str) -> Result<(), AppError> {
    if is_plain(text) {
        Ok(())
    } else {
        Err(AppError::bad_input(
            field,
            Message::new("error-control-characters").arg("field", field),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_and_everything_else_is_kept() {
        for hostile in [
            "a\u{0}",
            "\u{0}",
            "tab\there",
            "line\nbreak",
            "bell\u{7}",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            let error = check_plain("input.name", hostile).expect_err(hostile);
            assert_eq!(error.field(), Some("input.name"));
        }
        for fine in [
            "",
            "Olivia",
            "Zoë Ångström",
            "李小龍",
            "O'Brien-Smith",
            "emoji 🎉",
            "\u{200d}",
        ] {
            assert!(check_plain("input.name", fine).is_ok(), "{fine}");
        }
    }
}
