//! How much a cache holds: a number of entries, or a number of bytes as the cache's weigher measures its entries.

use std::{fmt, num::NonZeroUsize, str::FromStr};

/// A cache's bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capacity {
    /// At most this many entries.
    Entries(NonZeroUsize),
    /// At most this total weight (bytes, as the cache's weigher estimates them; without a weigher every entry
    /// weighs 1).
    Bytes(NonZeroUsize),
}

/// The units a size may be written in, largest first (binary multiples, as `ls -h` and Kubernetes write them).
const UNITS: [(&str, usize); 4] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)];

/// A capacity that is not a positive number of entries or bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCapacity {
    #[error("a cache capacity must be greater than 0")]
    Zero,
    #[error(
        "`{0}` is not a cache capacity; expected a number of entries such as 10000, or a size with a unit \
         (B, KiB, MiB or GiB) such as 64MiB"
    )]
    Malformed(String),
    #[error("`{0}` is too large a cache capacity")]
    TooLarge(String),
}

impl FromStr for Capacity {
    type Err = InvalidCapacity;

    /// `10000` is 10,000 entries; `100B`, `512KiB`, `64MiB` and `1GiB` are sizes (the unit in any case, a space
    /// before it allowed).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let digits_end = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
        let (digits, unit) = trimmed.split_at(digits_end);
        let unit = unit.trim_start();
        if digits.is_empty() {
            return Err(InvalidCapacity::Malformed(text.to_string()));
        }
        let multiplier = if unit.is_empty() {
            None
        } else {
            let (_, multiplier) = UNITS
                .into_iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(unit))
                .ok_or_else(|| InvalidCapacity::Malformed(text.to_string()))?;
            Some(multiplier)
        };
        let too_large = || InvalidCapacity::TooLarge(text.to_string());
        let count: usize = digits.parse().map_err(|_| too_large())?;
        let amount = count.checked_mul(multiplier.unwrap_or(1)).ok_or_else(too_large)?;
        let amount = NonZeroUsize::new(amount).ok_or(InvalidCapacity::Zero)?;
        Ok(match multiplier {
            None => Self::Entries(amount),
            Some(_) => Self::Bytes(amount),
        })
    }
}

impl fmt::Display for Capacity {
    /// As it parses back: `10000`, or a size in the largest unit that divides it (`64MiB`, `1000B`).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Entries(count) => write!(formatter, "{count}"),
            Self::Bytes(bytes) => {
                let bytes = bytes.get();
                let (unit, size) = UNITS
                    .into_iter()
                    .find(|(_, size)| bytes.is_multiple_of(*size))
                    .unwrap_or(("B", 1));
                write!(formatter, "{}{unit}", bytes / size)
            }
        }
    }
}
