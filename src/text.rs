//! The rule every free-text input shares: no control characters.
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
