//! Baby-name types that check themselves: a page number, a page size, a start index or an ordering that exists is
//! a valid one.

use crate::{
    error::{AppError, Message},
    pagination::{Direction, KeysetPage},
};

/// The largest page any of the three paging styles hands out, like the Relay cap.
pub const PAGE_SIZE_MAX: i32 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gender {
    Female,
    Male,
}

impl Gender {
    pub fn from_label(label: &str) -> Option<Self> {
        match label.trim().to_ascii_uppercase().as_str() {
            "FEMALE" => Some(Self::Female),
            "MALE" => Some(Self::Male),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ethnicity {
    AsianAndPacificIslander,
    BlackNonHispanic,
    Hispanic,
    WhiteNonHispanic,
}

impl Ethnicity {
    /// Reads a label of the file. The public file's 2012 rows cut three labels short (`ASIAN AND PACI`,
    /// `BLACK NON HISP`, `WHITE NON HISP`); they mean the same groups as the full labels of the other years, and
    /// are stored as those, so that one filter value finds every year.
    pub fn from_label(label: &str) -> Option<Self> {
        match label.trim().to_ascii_uppercase().as_str() {
            "ASIAN AND PACIFIC ISLANDER" | "ASIAN AND PACI" => Some(Self::AsianAndPacificIslander),
            "BLACK NON HISPANIC" | "BLACK NON HISP" => Some(Self::BlackNonHispanic),
            "HISPANIC" => Some(Self::Hispanic),
            "WHITE NON HISPANIC" | "WHITE NON HISP" => Some(Self::WhiteNonHispanic),
            _ => None,
        }
    }
}

/// One row of the dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BabyName {
    pub id: i32,
    /// The row's 0-based position in the imported file; it never changes, whatever is deleted around it.
    pub index: i32,
    pub year_of_birth: i32,
    pub gender: Gender,
    pub ethnicity: Ethnicity,
    /// As the file writes it: the same name may appear as `Olivia` one year and `OLIVIA` another.
    pub first_name: String,
    pub count: i32,
    pub rank: i32,
}

/// A row read from the file, not stored yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBabyName {
    pub index: i32,
    pub year_of_birth: i32,
    pub gender: Gender,
    pub ethnicity: Ethnicity,
    pub first_name: String,
    pub count: i32,
    pub rank: i32,
}

/// The form of a name that filters compare, so that `olivia`, `Olivia` and `OLIVIA` are one name.
pub fn fold_case(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The longest name or prefix a filter takes. The dataset's longest name is 15 characters; the cap keeps each
/// remembered count's key small (see the count cache in service.rs).
pub const FILTER_NAME_MAX_CHARS: usize = 64;

/// A name or prefix to filter by, case-folded: at most `FILTER_NAME_MAX_CHARS` characters, none of them a control
/// character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterName(String);

impl FilterName {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > FILTER_NAME_MAX_CHARS {
            return Err(AppError::bad_input(
                field,
                Message::new("names-filter-too-long")
                    .arg("field", field)
                    .arg("max", FILTER_NAME_MAX_CHARS),
            ));
        }
        crate::text::check_plain(field, trimmed)?;
        Ok(Self(fold_case(trimmed)))
    }
}

/// Which rows a list holds; every condition must hold. Names are kept case-folded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NameFilter {
    pub year_of_birth: Option<i32>,
    pub gender: Option<Gender>,
    pub ethnicity: Option<Ethnicity>,
    first_name: Option<String>,
    first_name_prefix: Option<String>,
}

impl NameFilter {
    /// The bytes its texts hold, for a cache that weighs its keys.
    pub fn text_bytes(&self) -> usize {
        self.first_name.as_ref().map_or(0, String::len) + self.first_name_prefix.as_ref().map_or(0, String::len)
    }

    pub fn new(
        year_of_birth: Option<i32>,
        gender: Option<Gender>,
        ethnicity: Option<Ethnicity>,
        first_name: Option<FilterName>,
        first_name_prefix: Option<FilterName>,
    ) -> Self {
        Self {
            year_of_birth,
            gender,
            ethnicity,
            first_name: first_name.map(|name| name.0),
            // Every name starts with the empty prefix: it filters nothing.
            first_name_prefix: first_name_prefix
                .map(|prefix| prefix.0)
                .filter(|prefix| !prefix.is_empty()),
        }
    }

    pub fn first_name(&self) -> Option<&str> {
        self.first_name.as_deref()
    }

    pub fn first_name_prefix(&self) -> Option<&str> {
        self.first_name_prefix.as_deref()
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The smallest string greater than every string that starts with `prefix`, if there is one: a prefix becomes
/// the range `prefix <= name < end`, which an index answers directly.
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// How many rows a page holds: 1 to `PAGE_SIZE_MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    pub fn parse(field: &str, raw: i32) -> Result<Self, AppError> {
        if raw < 1 {
            Err(AppError::bad_input(
                field,
                Message::new("names-at-least-one").arg("field", field),
            ))
        } else if raw > PAGE_SIZE_MAX {
            Err(AppError::bad_input(
                field,
                Message::new("error-page-size-too-large")
                    .arg("field", field)
                    .arg("max", PAGE_SIZE_MAX),
            ))
        } else {
            Ok(Self(raw.unsigned_abs()))
        }
    }

    pub fn get(self) -> u64 {
        u64::from(self.0)
    }
}

/// A page number, counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageNumber(u32);

impl PageNumber {
    pub fn parse(field: &str, raw: i32) -> Result<Self, AppError> {
        if raw < 1 {
            Err(AppError::bad_input(
                field,
                Message::new("names-at-least-one").arg("field", field),
            ))
        } else {
            Ok(Self(raw.unsigned_abs()))
        }
    }

    pub fn get(self) -> u64 {
        u64::from(self.0)
    }
}

/// Where a `babyNamesFromIndex` page starts: an index of the imported file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartIndex(i32);

impl StartIndex {
    /// `dataset_size` is the number of rows the imported file had, not how many are left: indexes of deleted rows
    /// stay valid places to start. 0 is always accepted, so the first request works on an empty dataset too.
    pub fn parse(field: &str, raw: i32, dataset_size: i32) -> Result<Self, AppError> {
        if raw == 0 || (0..dataset_size).contains(&raw) {
            Ok(Self(raw))
        } else {
            Err(AppError::bad_input(
                field,
                Message::new("names-index-out-of-range")
                    .arg("field", field)
                    .arg("max", (dataset_size - 1).max(0)),
            ))
        }
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// One page of `babyNamesPage`, with the arithmetic of its neighbours.
#[derive(Clone, Debug)]
pub struct NumberedPage {
    pub page: u64,
    /// The size asked for; the page itself may hold fewer rows.
    pub page_size: u64,
    pub total_count: u64,
    pub items: Vec<BabyName>,
}

impl NumberedPage {
    pub fn total_pages(&self) -> u64 {
        self.total_count.div_ceil(self.page_size)
    }

    pub fn next_page(&self) -> Option<u64> {
        (self.page < self.total_pages()).then_some(self.page + 1)
    }

    /// The page before this one, whenever this one is not the first, even past the end: the curriculum's
    /// `get_hyper` answers `page - 1` there too.
    pub fn prev_page(&self) -> Option<u64> {
        (self.page > 1).then(|| self.page - 1)
    }
}

/// One page of `babyNamesFromIndex`.
#[derive(Clone, Debug)]
pub struct IndexPage {
    pub index: i32,
    /// Where the next page starts; `None` when no row follows this page.
    pub next_index: Option<i32>,
    pub items: Vec<BabyName>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OrderField {
    #[default]
    Index,
    FirstName,
    Count,
    Rank,
    YearOfBirth,
}

/// The order of a Relay list of names; rows that tie keep the file's order (by `index`, in the same direction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NameOrder {
    pub field: OrderField,
    pub direction: Direction,
}

/// The value a row is sorted by, as a cursor carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortValue {
    /// Ordered by `index` alone.
    None,
    Int(i32),
    Text(String),
}

/// A row's place in an ordering: its sort value, then its index (unique) to break ties. Keyset paging goes on from
/// here even when the row itself has been deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamePosition {
    pub value: SortValue,
    pub index: i32,
}

impl NameOrder {
    /// The list a cursor belongs to: a cursor of one ordering is refused by another, since its position means
    /// nothing there.
    pub fn list_name(&self) -> String {
        let field = match self.field {
            OrderField::Index => "index",
            OrderField::FirstName => "firstName",
            OrderField::Count => "count",
            OrderField::Rank => "rank",
            OrderField::YearOfBirth => "yearOfBirth",
        };
        let direction = match self.direction {
            Direction::Asc => "asc",
            Direction::Desc => "desc",
        };
        format!("babyNames.{field}.{direction}")
    }

    pub fn position_of(&self, name: &BabyName) -> NamePosition {
        let value = match self.field {
            OrderField::Index => SortValue::None,
            OrderField::FirstName => SortValue::Text(fold_case(&name.first_name)),
            OrderField::Count => SortValue::Int(name.count),
            OrderField::Rank => SortValue::Int(name.rank),
            OrderField::YearOfBirth => SortValue::Int(name.year_of_birth),
        };
        NamePosition {
            value,
            index: name.index,
        }
    }

    /// Refuses a cursor whose value is not of this ordering's kind (a forged one: the list name already matched).
    pub fn check(&self, page: &KeysetPage<NamePosition>) -> Result<(), AppError> {
        for (field, position) in [("after", &page.after), ("before", &page.before)] {
            if let Some(position) = position {
                let fits = matches!(
                    (self.field, &position.value),
                    (OrderField::Index, SortValue::None)
                        | (OrderField::FirstName, SortValue::Text(_))
                        | (
                            OrderField::Count | OrderField::Rank | OrderField::YearOfBirth,
                            SortValue::Int(_)
                        )
                );
                if !fits {
                    return Err(AppError::bad_input(
                        field,
                        Message::new("error-invalid-cursor").arg("field", field),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_ethnicity_labels_read_as_the_full_ones() {
        assert_eq!(
            Ethnicity::from_label("ASIAN AND PACI"),
            Some(Ethnicity::AsianAndPacificIslander)
        );
        assert_eq!(
            Ethnicity::from_label("BLACK NON HISP"),
            Some(Ethnicity::BlackNonHispanic)
        );
        assert_eq!(
            Ethnicity::from_label("white non hisp"),
            Some(Ethnicity::WhiteNonHispanic)
        );
        assert_eq!(Ethnicity::from_label("HISP"), None);
        assert_eq!(Gender::from_label(" female "), Some(Gender::Female));
        assert_eq!(Gender::from_label("F"), None);
    }

    #[test]
    fn a_prefix_becomes_a_half_open_range() {
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("az").as_deref(), Some("a{"));
        assert_eq!(prefix_end("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(prefix_end("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10ffff}"), None);
    }

    #[test]
    fn page_sizes_and_numbers_are_checked() {
        assert!(PageSize::parse("pageSize", 0).is_err());
        assert!(PageSize::parse("pageSize", -1).is_err());
        assert!(PageSize::parse("pageSize", PAGE_SIZE_MAX + 1).is_err());
        assert_eq!(PageSize::parse("pageSize", PAGE_SIZE_MAX).expect("valid").get(), 100);
        assert!(PageNumber::parse("page", 0).is_err());
        assert_eq!(PageNumber::parse("page", 3).expect("valid").get(), 3);
    }

    #[test]
    fn start_indexes_lie_within_the_file() {
        assert!(StartIndex::parse("index", 0, 0).is_ok());
        assert!(StartIndex::parse("index", 9, 10).is_ok());
        assert!(StartIndex::parse("index", 10, 10).is_err());
        assert!(StartIndex::parse("index", -1, 10).is_err());
    }

    #[test]
    fn page_arithmetic_at_the_edges() {
        let page = |page, total_count| NumberedPage {
            page,
            page_size: 10,
            total_count,
            items: Vec::new(),
        };
        assert_eq!(
            (
                page(1, 25).total_pages(),
                page(1, 25).next_page(),
                page(1, 25).prev_page()
            ),
            (3, Some(2), None)
        );
        assert_eq!((page(3, 25).next_page(), page(3, 25).prev_page()), (None, Some(2)));
        assert_eq!((page(9, 25).next_page(), page(9, 25).prev_page()), (None, Some(8)));
        assert_eq!((page(1, 0).total_pages(), page(1, 0).next_page()), (0, None));
        assert_eq!(page(2, 0).prev_page(), Some(1));
        assert_eq!(page(2, 20).total_pages(), 2);
        let far = NumberedPage {
            page: 3000,
            page_size: 100,
            total_count: 19_418,
            items: Vec::new(),
        };
        assert_eq!(
            (far.total_pages(), far.prev_page(), far.next_page()),
            (195, Some(2999), None),
            "the curriculum's get_hyper"
        );
    }

    #[test]
    fn filter_names_are_folded_and_bounded() {
        let name = FilterName::parse("filter.firstName", "  OLIVIA ").expect("valid");
        assert_eq!(
            NameFilter::new(None, None, None, Some(name), None).first_name(),
            Some("olivia")
        );
        assert!(FilterName::parse("filter.firstName", &"é".repeat(FILTER_NAME_MAX_CHARS)).is_ok());
        let long = FilterName::parse("filter.firstNamePrefix", &"a".repeat(FILTER_NAME_MAX_CHARS + 1));
        assert_eq!(long.expect_err("too long").field(), Some("filter.firstNamePrefix"));
        let nul = FilterName::parse("filter.firstName", "a\u{0}");
        assert_eq!(nul.expect_err("a NUL").field(), Some("filter.firstName"));
    }
}
