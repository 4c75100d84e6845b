//! Reading the names CSV: the header check, then one row at a time, each either a new row or the reason it is
//! refused. Plain synchronous code; the service runs it on a blocking thread.

use std::io::Read;

use csv::ByteRecord;

use super::model::{Ethnicity, Gender, NewBabyName};
use crate::error::{AppError, AppResult, Message};

/// The columns of the public file, in order.
pub const HEADER: [&str; 6] = [
    "Year of Birth",
    "Gender",
    "Ethnicity",
    "Child's First Name",
    "Count",
    "Rank",
];

/// How much of a refused value a message quotes: enough to recognise it, short enough for one line.
const QUOTE_CHARS: usize = 40;

/// A row the import skips, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    /// The line of the file where the row starts (the header is line 1).
    pub line: u64,
    pub problem: Message,
}

/// A CSV file whose header has been checked.
pub struct NamesCsv<R> {
    reader: csv::Reader<R>,
    record: ByteRecord,
    next_index: i32,
}

impl<R: Read> NamesCsv<R> {
    /// Reads and checks the header. A file that fails here has had nothing imported from it.
    pub fn new(input: R) -> AppResult<Self> {
        // Flexible: a row with the wrong number of columns is one bad row to report, not the end of the import.
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut header = ByteRecord::new();
        let found = reader.read_byte_record(&mut header).map_err(read_error)?;
        let names: Vec<String> = header
            .iter()
            .enumerate()
            .map(|(column, name)| {
                let name = String::from_utf8_lossy(name);
                let name = if column == 0 {
                    name.trim_start_matches('\u{feff}')
                } else {
                    &name
                };
                name.trim().to_string()
            })
            .collect();
        let matches = names.len() == HEADER.len()
            && names
                .iter()
                .zip(HEADER)
                .all(|(found, expected)| found.eq_ignore_ascii_case(expected));
        if !found || !matches {
            return Err(AppError::bad_input(
                "header",
                Message::new("names-import-bad-header")
                    .arg("expected", HEADER.join(","))
                    .arg("found", quote(&names.join(","))),
            ));
        }
        Ok(Self {
            reader,
            record: ByteRecord::new(),
            next_index: 0,
        })
    }

    /// The next row with its index (its 0-based position after the header), or why it cannot be imported;
    /// `None` at the end of the file. A bad row uses up its index too, so that every row keeps its position.
    pub fn next_row(&mut self) -> AppResult<Option<Result<NewBabyName, BadRow>>> {
        if !self.reader.read_byte_record(&mut self.record).map_err(read_error)? {
            return Ok(None);
        }
        let index = self.next_index;
        self.next_index = index
            .checked_add(1)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the file has more rows than an index can number")))?;
        let line = self.record.position().map_or(0, csv::Position::line);
        Ok(Some(
            parse_row(&self.record, index).map_err(|problem| BadRow { line, problem }),
        ))
    }

    /// How many rows have been read, bad ones included: one more than the last index given out.
    pub fn rows_read(&self) -> i32 {
        self.next_index
    }

    /// How far into the input the reader is, in bytes.
    pub fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }
}

fn read_error(error: csv::Error) -> AppError {
    AppError::Internal(anyhow::Error::new(error).context("reading the CSV file"))
}

fn quote(text: &str) -> String {
    if text.chars().count() > QUOTE_CHARS {
        text.chars().take(QUOTE_CHARS).chain(['…']).collect()
    } else {
        text.to_string()
    }
}

fn parse_row(record: &ByteRecord, index: i32) -> Result<NewBabyName, Message> {
    if record.len() != HEADER.len() {
        return Err(Message::new("names-import-bad-column-count")
            .arg("expected", HEADER.len())
            .arg("found", record.len()));
    }
    let text = |column: usize| {
        std::str::from_utf8(&record[column])
            .map(str::trim)
            .map_err(|_| Message::new("names-import-bad-encoding").arg("column", HEADER[column]))
    };
    let number = |column: usize| {
        let value = text(column)?;
        value.parse::<i32>().ok().filter(|number| *number >= 0).ok_or_else(|| {
            Message::new("names-import-bad-number")
                .arg("column", HEADER[column])
                .arg("value", quote(value))
        })
    };
    let year_of_birth = number(0)?;
    let gender = text(1)?;
    let gender = Gender::from_label(gender)
        .ok_or_else(|| Message::new("names-import-bad-gender").arg("value", quote(gender)))?;
    let ethnicity = text(2)?;
    let ethnicity = Ethnicity::from_label(ethnicity)
        .ok_or_else(|| Message::new("names-import-bad-ethnicity").arg("value", quote(ethnicity)))?;
    let first_name = text(3)?;
    if first_name.is_empty() {
        return Err(Message::new("names-import-empty-name"));
    }
    Ok(NewBabyName {
        index,
        year_of_birth,
        gender,
        ethnicity,
        first_name: first_name.to_string(),
        count: number(4)?,
        rank: number(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<Result<NewBabyName, BadRow>> {
        let mut csv = NamesCsv::new(text.as_bytes()).expect("header accepted");
        std::iter::from_fn(|| csv.next_row().expect("readable")).collect()
    }

    #[test]
    fn a_wrong_or_missing_header_is_refused() {
        for text in ["", "Year,Gender\n2016,FEMALE\n", "a,b,c,d,e,f\n"] {
            let error = NamesCsv::new(text.as_bytes()).err().expect("refused");
            assert_eq!(error.field(), Some("header"), "{text:?}");
        }
        let with_bom = "\u{feff}year of birth,GENDER,Ethnicity,Child's First Name,Count,Rank\n";
        assert!(NamesCsv::new(with_bom.as_bytes()).is_ok());
    }

    #[test]
    fn each_row_keeps_its_position_and_bad_rows_say_their_line() {
        let text = "Year of Birth,Gender,Ethnicity,Child's First Name,Count,Rank\n\
                    2012,FEMALE,ASIAN AND PACI,Chloe,106,1\n\
                    2012,MALE,HISPANIC,Liam\n\
                    twenty,MALE,HISPANIC,Liam,1,2\n\
                    2012,MALE,HISPANIC,,1,2\n\
                    2012,OTHER,HISPANIC,Liam,1,2\n\
                    2012,MALE,HISPANIC,LIAM,1,2\n";
        let rows = rows(text);
        assert_eq!(rows.len(), 6);
        let first = rows[0].clone().expect("good row");
        assert_eq!((first.index, first.ethnicity), (0, Ethnicity::AsianAndPacificIslander));
        let problems: Vec<(u64, &str)> = rows[1..5]
            .iter()
            .map(|row| {
                let bad = row.clone().expect_err("bad row");
                (bad.line, bad.problem.id)
            })
            .collect();
        assert_eq!(
            problems,
            [
                (3, "names-import-bad-column-count"),
                (4, "names-import-bad-number"),
                (5, "names-import-empty-name"),
                (6, "names-import-bad-gender")
            ]
        );
        let last = rows[5].clone().expect("good row");
        assert_eq!((last.index, last.first_name.as_str()), (5, "LIAM"));
    }
}
