//! The names dataset: the import (service and command), the three ways to page, filters, deletion, bad input.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{NAMES_HEADER, TestApp, assert_no_errors, error_code, error_field, names_csv, real_names_file};

const ROW: &str = "id databaseId index yearOfBirth gender ethnicity firstName count rank";

fn page_query() -> String {
    format!(
        "query($page: Int, $pageSize: Int, $filter: BabyNameFilter) {{
           babyNamesPage(page: $page, pageSize: $pageSize, filter: $filter) {{
             page pageSize totalPages totalCount nextPage prevPage data {{ {ROW} }} }} }}"
    )
}

fn index_query() -> String {
    format!(
        "query($index: Int, $pageSize: Int, $filter: BabyNameFilter) {{
           babyNamesFromIndex(index: $index, pageSize: $pageSize, filter: $filter) {{
             index nextIndex pageSize data {{ {ROW} }} }} }}"
    )
}

fn relay_query() -> String {
    format!(
        "query($first: Int, $after: String, $last: Int, $before: String, $filter: BabyNameFilter,
               $orderBy: BabyNameOrder) {{
           babyNames(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {{
             totalCount
             edges {{ cursor node {{ {ROW} }} }}
             pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"
    )
}

const DELETE: &str = "mutation($id: ID!) { deleteBabyName(id: $id) }";

async fn numbered_page(app: &TestApp, page: i32, page_size: i32, filter: Value) -> Value {
    let (_, body) = app
        .gql(
            &page_query(),
            json!({ "page": page, "pageSize": page_size, "filter": filter }),
        )
        .await;
    assert_no_errors(&body);
    body["data"]["babyNamesPage"].clone()
}

async fn index_page(app: &TestApp, index: i64, page_size: i32, filter: Value) -> Value {
    let (_, body) = app
        .gql(
            &index_query(),
            json!({ "index": index, "pageSize": page_size, "filter": filter }),
        )
        .await;
    assert_no_errors(&body);
    body["data"]["babyNamesFromIndex"].clone()
}

fn indexes(rows: &Value) -> Vec<i64> {
    rows.as_array()
        .expect("a list of rows")
        .iter()
        .map(|row| row["index"].as_i64().expect("index"))
        .collect()
}

/// Every stored row in index order, read page by page.
async fn all_rows(app: &TestApp) -> Vec<Value> {
    let mut rows = Vec::new();
    for page in 1.. {
        let result = numbered_page(app, page, 100, Value::Null).await;
        rows.extend(result["data"].as_array().expect("data").iter().cloned());
        if result["nextPage"].is_null() {
            return rows;
        }
    }
    unreachable!("the loop returns")
}

/// Walks a Relay list with `first`/`after` to its end; returns the indexes in the order visited.
async fn walk_forward(app: &TestApp, size: i32, filter: &Value, order: &Value) -> Vec<i64> {
    let mut visited = Vec::new();
    let mut after = Value::Null;
    for step in 0.. {
        let (_, body) = app
            .gql(
                &relay_query(),
                json!({ "first": size, "after": after, "filter": filter, "orderBy": order }),
            )
            .await;
        assert_no_errors(&body);
        let connection = &body["data"]["babyNames"];
        assert_eq!(
            connection["pageInfo"]["hasPreviousPage"],
            json!(step > 0),
            "{connection:#}"
        );
        let edges = connection["edges"].as_array().expect("edges");
        visited.extend(edges.iter().map(|edge| edge["node"]["index"].as_i64().expect("index")));
        if connection["pageInfo"]["hasNextPage"] == json!(false) {
            return visited;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    unreachable!("the loop returns")
}

/// Walks a Relay list with `last`/`before` from its end; returns the indexes in list order.
async fn walk_backward(app: &TestApp, size: i32, filter: &Value, order: &Value) -> Vec<i64> {
    let mut pages = Vec::new();
    let mut before = Value::Null;
    for step in 0.. {
        let (_, body) = app
            .gql(
                &relay_query(),
                json!({ "last": size, "before": before, "filter": filter, "orderBy": order }),
            )
            .await;
        assert_no_errors(&body);
        let connection = &body["data"]["babyNames"];
        assert_eq!(connection["pageInfo"]["hasNextPage"], json!(step > 0), "{connection:#}");
        let edges = connection["edges"].as_array().expect("edges");
        pages.push(
            edges
                .iter()
                .map(|edge| edge["node"]["index"].as_i64().expect("index"))
                .collect::<Vec<_>>(),
        );
        if connection["pageInfo"]["hasPreviousPage"] == json!(false) {
            return pages.into_iter().rev().flatten().collect();
        }
        before = connection["pageInfo"]["startCursor"].clone();
    }
    unreachable!("the loop returns")
}

/// What a filter should select, computed from the rows themselves.
fn matches(row: &Value, filter: &Value) -> bool {
    let name = row["firstName"].as_str().expect("name").to_lowercase();
    let same = |field: &str| filter[field].is_null() || filter[field] == row[field];
    same("yearOfBirth")
        && same("gender")
        && same("ethnicity")
        && filter["firstName"]
            .as_str()
            .is_none_or(|wanted| wanted.to_lowercase() == name)
        && filter["firstNamePrefix"]
            .as_str()
            .is_none_or(|prefix| name.starts_with(&prefix.to_lowercase()))
}

/// The indexes of the selected rows in `order`, ties broken by index in the same direction.
fn expected_order(rows: &[Value], filter: &Value, field: &str, descending: bool) -> Vec<i64> {
    let mut selected: Vec<&Value> = rows.iter().filter(|row| matches(row, filter)).collect();
    let key = |row: &Value| -> (String, i64, i64) {
        let index = row["index"].as_i64().expect("index");
        match field {
            "INDEX" => (String::new(), 0, index),
            "FIRST_NAME" => (row["firstName"].as_str().expect("name").to_lowercase(), 0, index),
            "COUNT" => (String::new(), row["count"].as_i64().expect("count"), index),
            "RANK" => (String::new(), row["rank"].as_i64().expect("rank"), index),
            "YEAR_OF_BIRTH" => (String::new(), row["yearOfBirth"].as_i64().expect("year"), index),
            other => panic!("unknown order {other}"),
        }
    };
    selected.sort_by_key(|row| key(row));
    if descending {
        selected.reverse();
    }
    selected
        .iter()
        .map(|row| row["index"].as_i64().expect("index"))
        .collect()
}

#[tokio::test]
async fn importing_skips_bad_rows_reporting_their_lines_and_keeps_every_position() {
    let app = TestApp::spawn().await;
    let csv = format!(
        "{NAMES_HEADER}\n\
         2016,FEMALE,ASIAN AND PACIFIC ISLANDER,Olivia,172,1\n\
         2016,FEMALE,ASIAN AND PACIFIC ISLANDER,Olivia,172,1\n\
         2016,FEMALE,HISPANIC,Isabella\n\
         twenty,MALE,HISPANIC,Liam,100,1\n\
         2012,MALE,WHITE NON HISP,,100,1\n\
         2012,MALE,WHITE NON HISP,JOSEPH,many,1\n\
         2012,MALE,BLACK NON HISP,JAYDEN,171,-3\n\
         2012,FEMALE,ASIAN AND PACI,CHLOE,106,2\n"
    );
    let (summary, bad_rows) = app.import_names(&csv, false).await;
    assert_eq!(
        (summary.read, summary.imported, summary.already_present, summary.skipped),
        (8, 3, 0, 5)
    );
    let lines: Vec<u64> = bad_rows.iter().map(|bad| bad.line).collect();
    assert_eq!(lines, [4, 5, 6, 7, 8]);

    let rows = all_rows(&app).await;
    assert_eq!(
        indexes(&Value::Array(rows.clone())),
        [0, 1, 7],
        "bad rows keep their index unused"
    );
    assert_eq!(rows[0]["firstName"], "Olivia");
    assert_eq!(rows[1]["firstName"], "Olivia", "a repeated line is a row of its own");
    assert_eq!(rows[2]["firstName"], "CHLOE", "names are kept as written");
    assert_eq!(
        rows[2]["ethnicity"], "ASIAN_AND_PACIFIC_ISLANDER",
        "the truncated label is normalised"
    );
    assert_eq!(rows[2]["gender"], "FEMALE");
    assert_eq!(rows[2]["yearOfBirth"], 2012);
}

#[tokio::test]
async fn importing_the_same_file_twice_adds_nothing_and_replace_starts_over() {
    let app = TestApp::spawn().await;
    let (first, _) = app.import_names(&names_csv(40), false).await;
    assert_eq!((first.read, first.imported), (40, 40));
    let (second, _) = app.import_names(&names_csv(40), false).await;
    assert_eq!((second.read, second.imported, second.already_present), (40, 0, 40));
    assert_eq!(numbered_page(&app, 1, 10, Value::Null).await["totalCount"], 40);

    let (replaced, _) = app.import_names(&names_csv(15), true).await;
    assert_eq!((replaced.read, replaced.imported), (15, 15));
    let page = numbered_page(&app, 1, 10, Value::Null).await;
    assert_eq!(page["totalCount"], 15);
    // The file is 15 rows long now: index 15 lies past its end.
    let (_, body) = app.gql(&index_query(), json!({ "index": 15 })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn the_real_file_imports_every_row_and_pages_by_file_position() {
    let Some(path) = real_names_file() else { return };
    let app = TestApp::spawn().await;
    let text = std::fs::read_to_string(&path).expect("the real file");
    let (summary, bad_rows) = app.import_names(&text, false).await;
    assert_eq!((summary.read, summary.imported, summary.skipped), (19_418, 19_418, 0));
    assert!(bad_rows.is_empty());

    let first = numbered_page(&app, 1, 10, Value::Null).await;
    assert_eq!(
        (
            &first["totalCount"],
            &first["totalPages"],
            &first["prevPage"],
            &first["nextPage"]
        ),
        (&json!(19_418), &json!(1_942), &Value::Null, &json!(2))
    );
    assert_eq!(indexes(&first["data"]), (0..10).collect::<Vec<_>>());
    assert_eq!(first["data"][0]["firstName"], "Olivia");
    let page_3 = numbered_page(&app, 3, 7, Value::Null).await;
    assert_eq!(indexes(&page_3["data"]), (14..21).collect::<Vec<_>>());
    let last = numbered_page(&app, 1_942, 10, Value::Null).await;
    assert_eq!(indexes(&last["data"]), (19_410..19_418).collect::<Vec<_>>());
    assert_eq!((&last["pageSize"], &last["nextPage"]), (&json!(8), &Value::Null));

    // 2012 wrote its groups' labels short; they count with the other years' full labels.
    let lines: Vec<&str> = text.lines().skip(1).collect();
    let asian_2012 = lines
        .iter()
        .filter(|line| line.starts_with("2012,") && line.contains(",ASIAN AND PACI"))
        .count();
    let filter = json!({ "yearOfBirth": 2012, "ethnicity": "ASIAN_AND_PACIFIC_ISLANDER" });
    assert_eq!(numbered_page(&app, 1, 10, filter).await["totalCount"], asian_2012);
    let mut total = 0;
    for ethnicity in [
        "ASIAN_AND_PACIFIC_ISLANDER",
        "BLACK_NON_HISPANIC",
        "HISPANIC",
        "WHITE_NON_HISPANIC",
    ] {
        let page = numbered_page(&app, 1, 10, json!({ "ethnicity": ethnicity })).await;
        total += page["totalCount"].as_u64().expect("count");
    }
    assert_eq!(total, 19_418);

    let olivias = lines
        .iter()
        .filter(|line| {
            line.split(',')
                .nth(3)
                .is_some_and(|name| name.eq_ignore_ascii_case("olivia"))
        })
        .count();
    assert!(olivias > 10);
    let mut names = HashSet::new();
    for number in 1.. {
        let page = numbered_page(&app, number, 100, json!({ "firstName": "oLiViA" })).await;
        assert_eq!(page["totalCount"], olivias);
        names.extend(
            page["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|row| row["firstName"].as_str().expect("name").to_string()),
        );
        if page["nextPage"].is_null() {
            break;
        }
    }
    assert!(names.contains("Olivia") && names.contains("OLIVIA"), "{names:?}");
}

#[tokio::test]
async fn page_arithmetic_holds_at_the_edges() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(25), false).await;

    let first = numbered_page(&app, 1, 10, Value::Null).await;
    assert_eq!(
        (
            &first["page"],
            &first["pageSize"],
            &first["totalPages"],
            &first["totalCount"]
        ),
        (&json!(1), &json!(10), &json!(3), &json!(25))
    );
    assert_eq!((&first["prevPage"], &first["nextPage"]), (&Value::Null, &json!(2)));
    assert_eq!(indexes(&first["data"]), (0..10).collect::<Vec<_>>());

    let last = numbered_page(&app, 3, 10, Value::Null).await;
    assert_eq!(
        (&last["pageSize"], &last["prevPage"], &last["nextPage"]),
        (&json!(5), &json!(2), &Value::Null)
    );
    assert_eq!(indexes(&last["data"]), (20..25).collect::<Vec<_>>());

    let past = numbered_page(&app, 7, 10, Value::Null).await;
    assert_eq!(past["data"], json!([]));
    assert_eq!(
        (&past["pageSize"], &past["prevPage"], &past["nextPage"]),
        (&json!(0), &json!(6), &Value::Null)
    );

    let exact = numbered_page(&app, 5, 5, Value::Null).await;
    assert_eq!(
        (&exact["totalPages"], &exact["pageSize"], &exact["nextPage"]),
        (&json!(5), &json!(5), &Value::Null)
    );

    let defaults = app
        .gql("{ babyNamesPage { page pageSize totalPages } }", json!({}))
        .await
        .1;
    assert_eq!(
        defaults["data"]["babyNamesPage"],
        json!({ "page": 1, "pageSize": 10, "totalPages": 3 })
    );

    let empty_filter = numbered_page(&app, 1, 10, json!({ "firstName": "nobody" })).await;
    assert_eq!(
        (
            &empty_filter["totalCount"],
            &empty_filter["totalPages"],
            &empty_filter["nextPage"]
        ),
        (&json!(0), &json!(0), &Value::Null)
    );
}

#[tokio::test]
async fn numbered_pages_count_positions_not_indexes_once_rows_are_deleted() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(30), false).await;
    let token = app.admin_token().await;
    let rows = all_rows(&app).await;
    for index in [0, 4, 5] {
        let (_, body) = app
            .gql_as(Some(&token), DELETE, json!({ "id": rows[index]["id"] }))
            .await;
        assert_no_errors(&body);
    }
    let first = numbered_page(&app, 1, 10, Value::Null).await;
    assert_eq!(first["totalCount"], 27, "the count follows the deletions");
    assert_eq!(indexes(&first["data"]), [1, 2, 3, 6, 7, 8, 9, 10, 11, 12]);
    let last = numbered_page(&app, 3, 10, Value::Null).await;
    assert_eq!(indexes(&last["data"]), (23..30).collect::<Vec<_>>());
    assert_eq!(last["nextPage"], Value::Null);

    app.import_names(&names_csv(40), false).await;
    assert_eq!(
        numbered_page(&app, 1, 10, Value::Null).await["totalCount"],
        40,
        "the count follows an import, which restores the rows of its file that are missing"
    );
}

#[tokio::test]
async fn paging_from_an_index_neither_repeats_nor_skips_rows_when_rows_are_deleted() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(45), false).await;
    let token = app.admin_token().await;
    let rows = all_rows(&app).await;
    let id_of = |index: usize| rows[index]["id"].clone();

    let first = index_page(&app, 0, 10, Value::Null).await;
    assert_eq!(indexes(&first["data"]), (0..10).collect::<Vec<_>>());
    assert_eq!(
        (&first["index"], &first["nextIndex"], &first["pageSize"]),
        (&json!(0), &json!(10), &json!(10))
    );

    // Inside the next page, at both of its borders, and the last row already read.
    for index in [10, 13, 14, 19, 9] {
        let (_, body) = app.gql_as(Some(&token), DELETE, json!({ "id": id_of(index) })).await;
        assert_no_errors(&body);
    }
    let mut seen: Vec<i64> = indexes(&first["data"]);
    let mut next = first["nextIndex"].clone();
    let mut pages = 0;
    while let Some(index) = next.as_i64() {
        let page = index_page(&app, index, 10, Value::Null).await;
        assert!(page["pageSize"].as_u64().expect("size") <= 10);
        seen.extend(indexes(&page["data"]));
        next = page["nextIndex"].clone();
        pages += 1;
        assert!(pages < 10, "paging ends");
        // A row deleted while paging is not missed either: delete one just ahead.
        if pages == 1 {
            let (_, body) = app.gql_as(Some(&token), DELETE, json!({ "id": id_of(31) })).await;
            assert_no_errors(&body);
        }
    }
    let expected: Vec<i64> = (0..45).filter(|index| ![10, 13, 14, 19, 31].contains(index)).collect();
    assert_eq!(seen, expected, "each row that exists is read once, in order");

    let end = index_page(&app, 44, 10, Value::Null).await;
    assert_eq!((indexes(&end["data"]), &end["nextIndex"]), (vec![44], &Value::Null));
    let defaults = app
        .gql("{ babyNamesFromIndex { index nextIndex pageSize } }", json!({}))
        .await
        .1;
    assert_eq!(
        defaults["data"]["babyNamesFromIndex"],
        json!({ "index": 0, "nextIndex": 12, "pageSize": 10 }),
        "the deleted indexes 9 and 10 are passed over: the page ends at index 11"
    );
}

#[tokio::test]
async fn relay_paging_visits_every_row_once_in_every_order_both_ways() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(47), false).await;
    let rows = all_rows(&app).await;
    assert_eq!(rows.len(), 47);
    for field in ["INDEX", "FIRST_NAME", "COUNT", "RANK", "YEAR_OF_BIRTH"] {
        for direction in ["ASC", "DESC"] {
            let order = json!({ "field": field, "direction": direction });
            let expected = expected_order(&rows, &Value::Null, field, direction == "DESC");
            assert_eq!(
                walk_forward(&app, 10, &Value::Null, &order).await,
                expected,
                "forward, {order}"
            );
            assert_eq!(
                walk_backward(&app, 9, &Value::Null, &order).await,
                expected,
                "backward, {order}"
            );
        }
    }
    let default = walk_forward(&app, 20, &Value::Null, &Value::Null).await;
    assert_eq!(default, (0..47).collect::<Vec<_>>(), "the default order is the file's");
    let (_, body) = app
        .gql("{ babyNames { totalCount edges { cursor } } }", json!({}))
        .await;
    assert_eq!(body["data"]["babyNames"]["totalCount"], 47);
    assert_eq!(body["data"]["babyNames"]["edges"].as_array().expect("edges").len(), 20);
}

#[tokio::test]
async fn a_relay_cursor_still_works_after_its_row_is_deleted() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(30), false).await;
    let token = app.admin_token().await;
    let order = json!({ "field": "COUNT", "direction": "DESC" });
    let expected = expected_order(&all_rows(&app).await, &Value::Null, "COUNT", true);
    let (_, body) = app.gql(&relay_query(), json!({ "first": 10, "orderBy": order })).await;
    let connection = &body["data"]["babyNames"];
    let last_edge = &connection["edges"][9];
    let (_, deleted) = app
        .gql_as(Some(&token), DELETE, json!({ "id": last_edge["node"]["id"] }))
        .await;
    assert_no_errors(&deleted);
    let (_, body) = app
        .gql(
            &relay_query(),
            json!({ "first": 10, "after": connection["pageInfo"]["endCursor"], "orderBy": order }),
        )
        .await;
    assert_no_errors(&body);
    let next: Vec<i64> = body["data"]["babyNames"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"]["index"].as_i64().expect("index"))
        .collect();
    assert_eq!(next, expected[10..20]);
}

#[tokio::test]
async fn filters_combine_with_each_way_of_paging() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(120), false).await;
    let rows = all_rows(&app).await;
    for filter in [
        json!({ "yearOfBirth": 2012, "ethnicity": "BLACK_NON_HISPANIC" }),
        json!({ "gender": "FEMALE", "firstName": "OLIVIA" }),
        json!({ "firstNamePrefix": "oLi" }),
        json!({ "firstNamePrefix": "ZO" }),
        json!({ "yearOfBirth": 2014, "gender": "MALE", "firstNamePrefix": "l" }),
        json!({ "firstNamePrefix": "" }),
    ] {
        let expected = expected_order(&rows, &filter, "INDEX", false);
        assert!(!expected.is_empty(), "{filter} selects rows");

        let mut paged = Vec::new();
        for page in 1.. {
            let result = numbered_page(&app, page, 4, filter.clone()).await;
            assert_eq!(result["totalCount"], expected.len(), "{filter}");
            paged.extend(indexes(&result["data"]));
            if result["nextPage"].is_null() {
                break;
            }
        }
        assert_eq!(paged, expected, "babyNamesPage, {filter}");

        let mut from_index = Vec::new();
        let mut next = json!(0);
        while let Some(index) = next.as_i64() {
            let result = index_page(&app, index, 4, filter.clone()).await;
            from_index.extend(indexes(&result["data"]));
            next = result["nextIndex"].clone();
        }
        assert_eq!(from_index, expected, "babyNamesFromIndex, {filter}");

        let order = json!({ "field": "FIRST_NAME", "direction": "DESC" });
        assert_eq!(
            walk_forward(&app, 4, &filter, &order).await,
            expected_order(&rows, &filter, "FIRST_NAME", true),
            "babyNames, {filter}"
        );
        let (_, body) = app.gql(&relay_query(), json!({ "first": 1, "filter": filter })).await;
        assert_eq!(body["data"]["babyNames"]["totalCount"], expected.len(), "{filter}");
    }
}

#[tokio::test]
async fn bad_paging_arguments_are_bad_user_input_naming_the_argument() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(20), false).await;
    let token = app.admin_token().await;
    let (_, users) = app
        .gql_as(Some(&token), "{ users(first: 1) { edges { cursor } } }", json!({}))
        .await;
    let users_cursor = users["data"]["users"]["edges"][0]["cursor"].clone();
    let (_, by_count) = app
        .gql(&relay_query(), json!({ "first": 2, "orderBy": { "field": "COUNT" } }))
        .await;
    let count_cursor = by_count["data"]["babyNames"]["pageInfo"]["endCursor"].clone();
    assert!(count_cursor.is_string());

    let cases = [
        (page_query(), json!({ "page": 0 }), "page"),
        (page_query(), json!({ "page": -3 }), "page"),
        (page_query(), json!({ "pageSize": 0 }), "pageSize"),
        (page_query(), json!({ "pageSize": -1 }), "pageSize"),
        (page_query(), json!({ "pageSize": 101 }), "pageSize"),
        (index_query(), json!({ "pageSize": -1 }), "pageSize"),
        (index_query(), json!({ "pageSize": 101 }), "pageSize"),
        (index_query(), json!({ "index": 20 }), "index"),
        (index_query(), json!({ "index": -1 }), "index"),
        (relay_query(), json!({ "first": 101 }), "first"),
        (relay_query(), json!({ "last": -1 }), "last"),
        (relay_query(), json!({ "after": "not a cursor" }), "after"),
        (relay_query(), json!({ "before": "bm90IGEgY3Vyc29y" }), "before"),
        (relay_query(), json!({ "after": users_cursor }), "after"),
        (relay_query(), json!({ "after": count_cursor }), "after"),
        (
            relay_query(),
            json!({ "before": count_cursor, "orderBy": { "field": "COUNT", "direction": "DESC" } }),
            "before",
        ),
        (
            page_query(),
            json!({ "filter": { "gender": "OTHER" } }),
            "filter.gender",
        ),
        (
            index_query(),
            json!({ "filter": { "ethnicity": "ASIAN AND PACI" } }),
            "filter.ethnicity",
        ),
        (
            relay_query(),
            json!({ "orderBy": { "field": "NAME" } }),
            "orderBy.field",
        ),
        (
            relay_query(),
            json!({ "orderBy": { "field": "COUNT", "direction": "UP" } }),
            "orderBy.direction",
        ),
    ];
    for (query, variables, field) in cases {
        let (_, body) = app.gql(&query, variables.clone()).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{variables}: {body:#}");
        assert_eq!(error_field(&body), field, "{variables}: {body:#}");
    }

    let (status, body) = app
        .gql("{ babyNamesPage(filter: { gender: OTHER }) { totalCount } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "nothing ran: {body:#}");
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(error_field(&body), "filter.gender");
    let (_, body) = app.gql("{ babyNamesPage { noSuchField } }", json!({})).await;
    assert_eq!(
        error_code(&body),
        "GRAPHQL_VALIDATION_FAILED",
        "other validation failures keep their code"
    );
    app.assert_still_serving().await;
}

#[tokio::test]
async fn an_index_is_valid_up_to_the_files_size_even_after_its_last_rows_are_deleted() {
    let app = TestApp::spawn().await;
    let (_, body) = app.gql(&index_query(), json!({ "index": 0 })).await;
    assert_no_errors(&body);
    assert_eq!(
        body["data"]["babyNamesFromIndex"]["data"],
        json!([]),
        "an empty dataset has an empty first page"
    );

    app.import_names(&names_csv(12), false).await;
    let token = app.admin_token().await;
    let rows = all_rows(&app).await;
    for index in [10, 11] {
        app.gql_as(Some(&token), DELETE, json!({ "id": rows[index]["id"] }))
            .await;
    }
    let page = index_page(&app, 11, 10, Value::Null).await;
    assert_eq!((&page["data"], &page["nextIndex"]), (&json!([]), &Value::Null));
    let (_, body) = app.gql(&index_query(), json!({ "index": 12 })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(error_field(&body), "index");
}

#[tokio::test]
async fn only_admins_delete_names_and_a_missing_row_is_not_found() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(5), false).await;
    let rows = all_rows(&app).await;
    let id = rows[2]["id"].clone();

    let (_, body) = app.gql(DELETE, json!({ "id": id })).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let user = app.register("ada@example.com").await;
    let (_, body) = app
        .gql_as(user["accessToken"].as_str(), DELETE, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");

    let token = app.admin_token().await;
    let (_, body) = app.gql_as(Some(&token), DELETE, json!({ "id": id })).await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["deleteBabyName"], id);
    let (_, body) = app.gql_as(Some(&token), DELETE, json!({ "id": id })).await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    assert_eq!(error_field(&body), "id");

    for bad in [json!("garbage"), user["user"]["id"].clone()] {
        let (_, body) = app.gql_as(Some(&token), DELETE, json!({ "id": bad })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad}");
        assert_eq!(error_field(&body), "id");
    }
    assert_eq!(numbered_page(&app, 1, 10, Value::Null).await["totalCount"], 4);
}

#[tokio::test]
async fn baby_names_are_nodes() {
    let app = TestApp::spawn().await;
    app.import_names(&names_csv(3), false).await;
    let rows = all_rows(&app).await;
    let (_, body) = app
        .gql(
            "query($id: ID!, $ids: [ID!]!) {
               node(id: $id) { id ... on BabyName { index firstName } }
               nodes(ids: $ids) { id ... on BabyName { index } } }",
            json!({ "id": rows[1]["id"], "ids": [rows[2]["id"], rows[0]["id"]] }),
        )
        .await;
    assert_no_errors(&body);
    assert_eq!(body["data"]["node"]["index"], 1);
    assert_eq!(body["data"]["node"]["firstName"], rows[1]["firstName"]);
    assert_eq!(body["data"]["nodes"][0]["index"], 2);
    assert_eq!(body["data"]["nodes"][1]["index"], 0);
    assert_eq!(rows[1]["databaseId"].as_i64().map(|id| id > 0), Some(true));
}

/// Runs `alx-backend import-names` against the test's database.
async fn import_command(app: &TestApp, args: Vec<String>) -> std::process::Output {
    let database_url = app.database_url.clone();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().expect("temp dir");
        std::process::Command::new(env!("CARGO_BIN_EXE_alx-backend"))
            .arg("import-names")
            .args(args)
            .current_dir(dir.path())
            .env("DATABASE_URL", database_url)
            .env("ALX_LOG", "warn")
            .output()
            .expect("the binary runs")
    })
    .await
    .expect("command task")
}

#[tokio::test]
async fn the_import_command_refuses_a_missing_file_or_a_wrong_header_and_imports_a_good_one() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.csv");
    let output = import_command(&app, vec![missing.display().to_string()]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("Cannot open") && stderr.contains("missing.csv"),
        "{stderr}"
    );

    let wrong_header = dir.path().join("wrong.csv");
    std::fs::write(&wrong_header, "year,name\n2016,Olivia\n").expect("write");
    let output = import_command(&app, vec![wrong_header.display().to_string()]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("header"), "{stderr}");
    assert_eq!(
        numbered_page(&app, 1, 10, Value::Null).await["totalCount"],
        0,
        "nothing was written"
    );

    let good = dir.path().join("names.csv");
    let mut text = names_csv(30);
    text.push_str("2016,MALE,HISPANIC,Liam,ten,3\n");
    std::fs::write(&good, text).expect("write");
    let output = import_command(&app, vec![good.display().to_string()]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("Line 32 skipped"), "{stderr}");
    assert!(
        stdout.contains("Read 31 rows: 30 imported, 0 already present, 1 skipped."),
        "{stdout}"
    );
    assert_eq!(numbered_page(&app, 1, 10, Value::Null).await["totalCount"], 30);

    let output = import_command(&app, vec!["--replace".into(), good.display().to_string()]).await;
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("30 imported"));
    assert_eq!(numbered_page(&app, 1, 10, Value::Null).await["totalCount"], 30);
}
