//! Input rules shared by the forms and the backend (the backend always re-checks).

use crate::error::{AppError, FieldError};

pub const PASSWORD_MIN: usize = 12;
/// Long passphrases are welcome; the cap only bounds hashing work.
pub const PASSWORD_MAX: usize = 256;
/// The longest email address (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;
/// The longest free text a form takes (descriptions, filters); names have their own caps.
pub const TEXT_MAX: usize = 1000;

/// Any text input: at most `max` characters. Checked before the value is stored, counted,
/// hashed or used as a key, so a huge input is a 422, never a database error.
pub fn bounded_text(value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() > max {
        Err(format!("Use at most {max} characters."))
    } else {
        Ok(())
    }
}

/// Characters that make text display differently from what it is: bidirectional overrides
/// and isolates (an email that reads as another), zero-width characters and the BOM.
pub fn has_deceptive_chars(value: &str) -> bool {
    value.chars().any(|c| {
        matches!(c,
            '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{061C}'
        ) || c.is_control()
    })
}

/// Collects field errors so a form can show all of them at once.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn check(&mut self, field: &str, result: Result<(), String>) -> &mut Self {
        if let Err(message) = result {
            self.0.push(FieldError {
                field: field.into(),
                message,
            });
        }
        self
    }

    pub fn finish(&mut self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(std::mem::take(&mut self.0)))
        }
    }
}

pub fn email(value: &str) -> Result<(), String> {
    let value = value.trim();
    if value.chars().count() > EMAIL_MAX {
        return Err(format!("Use at most {EMAIL_MAX} characters."));
    }
    if has_deceptive_chars(value) {
        return Err("Remove invisible or direction-changing characters from the address.".into());
    }
    let valid = value.len() <= EMAIL_MAX
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.chars().any(char::is_whitespace)
                && !domain.contains('@')
        });
    if valid {
        Ok(())
    } else {
        Err("Enter an email address like name@example.com.".into())
    }
}

/// Length rules only; the server also refuses common passwords.
pub fn password_shape(value: &str) -> Result<(), String> {
    let len = value.chars().count();
    if len < PASSWORD_MIN {
        Err(format!("Use at least {PASSWORD_MIN} characters."))
    } else if len > PASSWORD_MAX {
        Err(format!("Use at most {PASSWORD_MAX} characters."))
    } else {
        Ok(())
    }
}

/// Tenant slugs appear in URLs and resource tags: lowercase letters, digits and inner hyphens.
pub fn slug(value: &str) -> Result<(), String> {
    let ok_chars = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !(3..=40).contains(&value.len()) {
        Err("Use 3 to 40 characters.".into())
    } else if !ok_chars || value.starts_with('-') || value.ends_with('-') {
        Err("Use lowercase letters, digits and hyphens, starting and ending with a letter or digit.".into())
    } else {
        Ok(())
    }
}

pub fn display_name(value: &str) -> Result<(), String> {
    let len = value.trim().chars().count();
    if len == 0 {
        Err("Enter a name.".into())
    } else if len > 80 {
        Err("Use at most 80 characters.".into())
    } else if has_deceptive_chars(value) {
        Err("Remove invisible or direction-changing characters from the name.".into())
    } else {
        Ok(())
    }
}

pub fn quota(value: i32) -> Result<(), String> {
    if (0..=100_000).contains(&value) {
        Ok(())
    } else {
        Err("Use a whole number from 0 to 100000.".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(slug("acme").is_ok());
        assert!(slug("acme-2").is_ok());
        assert!(slug("ab").is_err());
        assert!(slug("-acme").is_err());
        assert!(slug("Acme").is_err());
        assert!(slug("ac me").is_err());
    }

    #[test]
    fn emails() {
        assert!(email("a@b.co").is_ok());
        assert!(email("a@b").is_err());
        assert!(email("ab.co").is_err());
        assert!(email("a b@c.de").is_err());
    }

    #[test]
    fn deceptive_characters_are_refused_in_names_and_emails() {
        assert!(display_name("Ann \u{202E}nimda").is_err());
        assert!(display_name("Ann\u{200B}").is_err());
        assert!(email("admin\u{200D}@acme.test").is_err());
        assert!(email(&format!("{}@acme.test", "a".repeat(100_000))).is_err());
        assert!(display_name("Zoë Ångström").is_ok());
        assert!(bounded_text(&"x".repeat(1001), TEXT_MAX).is_err());
    }

    #[test]
    fn password_lengths() {
        assert!(password_shape(&"x".repeat(11)).is_err());
        assert!(password_shape(&"x".repeat(12)).is_ok());
        assert!(password_shape(&"x".repeat(256)).is_ok());
        assert!(password_shape(&"x".repeat(257)).is_err());
    }
}
