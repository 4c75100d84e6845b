## The names dataset. Variables: { $field } names an argument.

names-at-least-one = { $field } must be at least 1.
names-index-out-of-range = { $field } must be between 0 and { $max }.
names-filter-too-long = { $field } may be at most { $max } characters long.

## The import-names command

names-import-cannot-open = Cannot open { $path }: { $reason }
names-import-bad-header = The first line must be the header "{ $expected }", not "{ $found }". Nothing was imported.
names-import-bad-column-count = expected { $expected } columns, found { $found }.
names-import-bad-encoding = the { $column } column is not valid UTF-8.
names-import-bad-number = the { $column } column must be a whole number of 0 or more, not "{ $value }".
names-import-bad-gender = the gender must be FEMALE or MALE, not "{ $value }".
names-import-bad-ethnicity = the ethnicity "{ $value }" is not one of the dataset's groups.
names-import-empty-name = the first name is empty.
names-import-bad-row = Line { $line } skipped: { $problem }
names-import-progress = { $percent }% read, { $rows } rows.
names-import-rows = { $rows } rows
names-import-summary = Read { $read } rows: { $imported } imported, { $present } already present, { $skipped } skipped.
