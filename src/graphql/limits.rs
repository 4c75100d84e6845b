//! Limits async-graphql does not have: aliases per operation, checked as soon as a document parses.

use std::sync::Arc;

use async_graphql::{
    ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use super::errors::request_error;
use crate::error::{ErrorCode, Message};

/// Refuses documents with more than `max` aliases, on every transport.
pub struct AliasLimit {
    pub max: usize,
}

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension { max: self.max })
    }
}

struct AliasLimitExtension {
    max: usize,
}

#[async_graphql::async_trait::async_trait]
impl Extension for AliasLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if count_aliases(&document) > self.max {
            return Err(request_error(
                ErrorCode::QueryTooComplex,
                Message::new("error-too-many-aliases").arg("limit", self.max),
            ));
        }
        Ok(document)
    }
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

fn count_in(selection_set: &SelectionSet) -> usize {
    selection_set
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => usize::from(field.node.alias.is_some()) + count_in(&field.node.selection_set.node),
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
}
