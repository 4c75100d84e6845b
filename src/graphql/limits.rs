//! Limits async-graphql does not have, checked once a document parses: aliases per document, and
//! introspection refused with an error (async-graphql's own switch silently answers null). They are checked by
//! the execute paths rather than in an async-graphql extension: any extension turns off async-graphql's fast path
//! for every field and list item it resolves.

use async_graphql::{
    ServerError,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use super::errors::request_error;
use crate::error::{ErrorCode, Message};

/// Refuses a document over the alias limit, or asking for introspection where it is off.
pub fn check(document: &ExecutableDocument, max_aliases: usize, introspection: bool) -> Result<(), ServerError> {
    if count_aliases(document) > max_aliases {
        return Err(request_error(
            ErrorCode::QueryTooComplex,
            Message::new("error-too-many-aliases").arg("limit", max_aliases),
        ));
    }
    if !introspection && asks_for_introspection(document) {
        return Err(request_error(
            ErrorCode::GraphqlValidationFailed,
            Message::new("error-introspection-disabled"),
        ));
    }
    Ok(())
}

/// Counts every aliased field in the document, fragments included: an alias flood multiplies work without depth.
pub fn count_aliases(document: &ExecutableDocument) -> usize {
    let operations: usize = document
        .operations
        .iter()
        .map(|(_, operation)| count_in(&operation.node.selection_set.node))
        .sum();
    let fragments: usize = document
        .fragments
        .values()
        .map(|fragment| count_in(&fragment.node.selection_set.node))
        .sum();
    operations + fragments
}

/// Whether any selection, fragments included, names `__schema` or `__type` (`__typename` stays allowed).
fn asks_for_introspection(document: &ExecutableDocument) -> bool {
    document
        .operations
        .iter()
        .any(|(_, operation)| introspects(&operation.node.selection_set.node))
        || document
            .fragments
            .values()
            .any(|fragment| introspects(&fragment.node.selection_set.node))
}

fn introspects(selection_set: &SelectionSet) -> bool {
    selection_set.items.iter().any(|selection| match &selection.node {
        Selection::Field(field) => {
            matches!(field.node.name.node.as_str(), "__schema" | "__type")
                || introspects(&field.node.selection_set.node)
        }
        Selection::InlineFragment(fragment) => introspects(&fragment.node.selection_set.node),
        Selection::FragmentSpread(_) => false,
    })
}

fn count_in(selection_set: &SelectionSet) -> usize {
    selection_set
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + count_in(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count_in(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_counted_through_nesting_and_fragments() {
        let document = async_graphql::parser::parse_query(
            "query { a: me { b: name } ...F } fragment F on Query { c: me { id } d: __typename }",
        )
        .expect("parses");
        assert_eq!(count_aliases(&document), 4);
    }

    #[test]
    fn introspection_is_found_inside_fragments_but_typename_is_not_introspection() {
        let hidden =
            async_graphql::parser::parse_query("{ ...F } fragment F on Query { __type(name: \"User\") { name } }")
                .expect("parses");
        assert!(asks_for_introspection(&hidden));
        let plain = async_graphql::parser::parse_query("{ __typename me { __typename } }").expect("parses");
        assert!(!asks_for_introspection(&plain));
    }
}
