//! The document budget: what a document may cost before anything expensive runs. async-graphql's own checks
//! (depth, complexity, recursive depth) re-expand every fragment spread, so a kilobyte of fragments that spread
//! the next one twice costs them 2^n steps, and `__typename` costs them nothing; they are only safe once this
//! budget has bounded the expanded size. The text is checked before parsing (size, tokens, and how deeply
//! brackets nest, which bound the parser's allocations and its recursion), the parsed document once per
//! fragment (memoised), and all of it before the permit queue. They are checked by the engine rather than in an
//! async-graphql extension: any extension turns off async-graphql's fast path for every field and list item it
//! resolves.

use std::collections::HashMap;

use async_graphql::{
    Positioned, ServerError,
    parser::types::{Directive, ExecutableDocument, Selection, SelectionSet},
};

use super::errors::request_error;
use crate::error::{ErrorCode, Message};

/// How deeply brackets (`{`, `[`, `(`) may nest. async-graphql's parser bounds the nesting of selection sets,
/// but not of values: a few thousand nested `[` overflow its stack and abort the process.
const MAX_NESTING: usize = 100;

/// `__typename` selections one selection set may hold once its fragments are expanded. async-graphql counts
/// them as free (no complexity) yet runs one future for each per object, so a list of 100 objects with a
/// fragment of 5,000 of them is half a million futures that the complexity limit never sees. Clients add one
/// per selection set and per fragment; 20 leaves room for that.
const MAX_TYPENAMES_PER_SELECTION: usize = 20;

/// Bytes of one alias. An alias is the one name in an answer the client chooses, and it is written once per row:
/// 30 aliases of 700 bytes over nested pages once made a 21 KB document ask for a 58 MB answer. Field names are
/// the schema's and short, so with this bound an answer's size follows its complexity.
const MAX_ALIAS_BYTES: usize = 64;

/// The configured ceilings of one document.
#[derive(Clone, Debug)]
pub struct DocumentBudget {
    /// Longest query text, in bytes (checked before anything else; `BAD_REQUEST`).
    pub max_query_bytes: usize,
    /// Lexical tokens in the query text, counted without parsing.
    pub max_tokens: usize,
    /// Fields, fragment spreads and inline fragments after every spread is expanded (`__typename` counts too).
    pub max_fields: usize,
    /// Aliases written in the document.
    pub max_aliases: usize,
    /// Directives on one field, spread or inline fragment.
    pub max_directives: usize,
    /// Arguments on one field.
    pub max_arguments: usize,
    pub introspection: bool,
}

/// What a document that fits the budget costs, for the document cache to weigh it by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DocumentCost {
    /// Lexical tokens of its text: each becomes at least one node of the parsed document (a selection, a
    /// name, a value), so they measure its parsed size, arguments' values included.
    pub tokens: usize,
}

impl DocumentBudget {
    /// Refuses a query text over the size, token or nesting budget; cheap enough to run before the parser.
    pub fn check_text(&self, query: &str) -> Result<DocumentCost, ServerError> {
        if query.len() > self.max_query_bytes {
            return Err(request_error(
                ErrorCode::BadRequest,
                Message::new("error-document-too-large").arg("limit", self.max_query_bytes),
            ));
        }
        let lexed = lex(query, self.max_tokens);
        if lexed.tokens > self.max_tokens {
            return Err(too_complex(
                Message::new("error-too-many-tokens").arg("limit", self.max_tokens),
            ));
        }
        if lexed.deepest > MAX_NESTING {
            return Err(too_complex(Message::new("error-query-too-deep")));
        }
        Ok(DocumentCost { tokens: lexed.tokens })
    }

    /// Refuses a parsed document over the budget, with a fragment cycle, or asking for introspection where it is
    /// off. Each fragment is measured once, however often it is spread.
    pub fn check_document(&self, document: &ExecutableDocument) -> Result<(), ServerError> {
        let mut written = Written::default();
        let mut fragments: HashMap<&str, Shape<'_>> = HashMap::with_capacity(document.fragments.len());
        for (name, fragment) in &document.fragments {
            self.check_directives(&fragment.node.directives)?;
            let mut shape = Shape::default();
            self.walk(&fragment.node.selection_set.node, &mut shape, &mut written)?;
            fragments.insert(name.as_str(), shape);
        }
        let mut operations = Vec::with_capacity(1);
        for (_, operation) in document.operations.iter() {
            self.check_directives(&operation.node.directives)?;
            let mut shape = Shape::default();
            self.walk(&operation.node.selection_set.node, &mut shape, &mut written)?;
            operations.push(shape);
        }
        let expanded = expand_fragments(&fragments)?;
        // Validation walks every definition, unused fragments included, and follows their spreads: each costs
        // its expanded size, however often (or never) it is used.
        let total = operations
            .iter()
            .map(|shape| shape.expanded_with(&expanded))
            .chain(expanded.values().map(|sizes| sizes.selections))
            .fold(0usize, usize::saturating_add);
        if total > self.max_fields {
            return Err(too_complex(
                Message::new("error-too-many-fields").arg("limit", self.max_fields),
            ));
        }
        if written.aliases > self.max_aliases {
            return Err(too_complex(
                Message::new("error-too-many-aliases").arg("limit", self.max_aliases),
            ));
        }
        let typenames = written
            .sets
            .iter()
            .map(|set| set.typenames_with(&expanded))
            .max()
            .unwrap_or(0);
        if typenames > MAX_TYPENAMES_PER_SELECTION {
            return Err(too_complex(
                Message::new("error-too-many-typenames").arg("limit", MAX_TYPENAMES_PER_SELECTION),
            ));
        }
        if !self.introspection && written.introspects {
            return Err(request_error(
                ErrorCode::GraphqlValidationFailed,
                Message::new("error-introspection-disabled"),
            ));
        }
        Ok(())
    }

    fn check_directives(&self, directives: &[Positioned<Directive>]) -> Result<(), ServerError> {
        if directives.len() > self.max_directives {
            return Err(too_complex(
                Message::new("error-too-many-directives").arg("limit", self.max_directives),
            ));
        }
        Ok(())
    }

    /// Measures one selection set as written into `shape` (the definition it belongs to), noting the spreads
    /// whose expansion `expand_fragments` adds, and the `__typename`s of every selection set nested in it.
    fn walk<'a>(
        &self,
        selection_set: &'a SelectionSet,
        shape: &mut Shape<'a>,
        written: &mut Written<'a>,
    ) -> Result<(), ServerError> {
        let mut set = SetShape::default();
        self.walk_set(selection_set, shape, &mut set, written)?;
        shape.top_typenames = set.typenames;
        shape.top_spreads = set.spreads.clone();
        written.sets.push(set);
        Ok(())
    }

    /// One selection set's own selections into `set`, inline fragments merged into it (they are part of it).
    fn walk_set<'a>(
        &self,
        selection_set: &'a SelectionSet,
        shape: &mut Shape<'a>,
        set: &mut SetShape<'a>,
        written: &mut Written<'a>,
    ) -> Result<(), ServerError> {
        for selection in &selection_set.items {
            shape.selections += 1;
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    self.check_directives(&field.directives)?;
                    if field.arguments.len() > self.max_arguments {
                        return Err(too_complex(
                            Message::new("error-too-many-arguments").arg("limit", self.max_arguments),
                        ));
                    }
                    if let Some(alias) = &field.alias {
                        written.aliases += 1;
                        if alias.node.len() > MAX_ALIAS_BYTES {
                            return Err(too_complex(
                                Message::new("error-alias-too-long").arg("limit", MAX_ALIAS_BYTES),
                            ));
                        }
                    }
                    let name = field.name.node.as_str();
                    written.introspects |= matches!(name, "__schema" | "__type");
                    set.typenames += usize::from(name == "__typename");
                    if !field.selection_set.node.items.is_empty() {
                        let mut child = SetShape::default();
                        self.walk_set(&field.selection_set.node, shape, &mut child, written)?;
                        written.sets.push(child);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.check_directives(&fragment.node.directives)?;
                    self.walk_set(&fragment.node.selection_set.node, shape, set, written)?;
                }
                Selection::FragmentSpread(spread) => {
                    self.check_directives(&spread.node.directives)?;
                    let name = spread.node.fragment_name.node.as_str();
                    shape.spreads.push(name);
                    set.spreads.push(name);
                }
            }
        }
        Ok(())
    }
}

fn too_complex(message: Message) -> ServerError {
    request_error(ErrorCode::QueryTooComplex, message)
}

/// Totals over the document as written.
#[derive(Default)]
struct Written<'a> {
    aliases: usize,
    introspects: bool,
    /// Every selection set as written, each definition's top one included.
    sets: Vec<SetShape<'a>>,
}

/// One selection set as written: its `__typename`s and the fragments spread into it.
#[derive(Clone, Default)]
struct SetShape<'a> {
    typenames: usize,
    spreads: Vec<&'a str>,
}

impl SetShape<'_> {
    /// Its `__typename`s once the fragments spread into it are merged in.
    fn typenames_with(&self, expanded: &HashMap<&str, Expanded>) -> usize {
        self.spreads.iter().fold(self.typenames, |total, name| {
            total.saturating_add(expanded.get(name).map_or(0, |sizes| sizes.top_typenames))
        })
    }
}

/// One definition (an operation's or a fragment's selection set) as written.
#[derive(Default)]
struct Shape<'a> {
    selections: usize,
    spreads: Vec<&'a str>,
    /// The top selection set's own `__typename`s and spreads, which merge into wherever it is spread.
    top_typenames: usize,
    top_spreads: Vec<&'a str>,
}

/// A fragment's sizes with every spread in it expanded.
#[derive(Clone, Copy, Default)]
struct Expanded {
    selections: usize,
    top_typenames: usize,
}

impl Shape<'_> {
    /// Its size once every spread is replaced by its fragment; unknown fragments (a validation error later) add 0.
    fn expanded_with(&self, expanded: &HashMap<&str, Expanded>) -> usize {
        self.spreads.iter().fold(self.selections, |total, name| {
            total.saturating_add(expanded.get(name).map_or(0, |sizes| sizes.selections))
        })
    }

    fn expanded_typenames_with(&self, expanded: &HashMap<&str, Expanded>) -> usize {
        self.top_spreads.iter().fold(self.top_typenames, |total, name| {
            total.saturating_add(expanded.get(name).map_or(0, |sizes| sizes.top_typenames))
        })
    }
}

/// Every fragment's expanded sizes, each computed once, in dependency order. Iterative rather than recursive: a
/// chain of thousands of fragments must not overflow the stack. A cycle is the spec's validation error.
fn expand_fragments<'a>(fragments: &HashMap<&'a str, Shape<'a>>) -> Result<HashMap<&'a str, Expanded>, ServerError> {
    let mut expanded: HashMap<&'a str, Expanded> = HashMap::with_capacity(fragments.len());
    let mut on_path: HashMap<&'a str, ()> = HashMap::new();
    for &root in fragments.keys() {
        if expanded.contains_key(root) {
            continue;
        }
        // Each frame is a fragment and how many of its spreads have been looked at.
        let mut stack: Vec<(&'a str, usize)> = vec![(root, 0)];
        on_path.insert(root, ());
        while let Some((name, next)) = stack.last_mut() {
            let shape = &fragments[*name];
            if let Some(&child) = shape.spreads.get(*next) {
                *next += 1;
                if expanded.contains_key(child) || !fragments.contains_key(child) {
                    continue;
                }
                if on_path.contains_key(child) {
                    return Err(request_error(
                        ErrorCode::GraphqlValidationFailed,
                        Message::new("error-fragment-cycle").arg("fragment", child),
                    ));
                }
                on_path.insert(child, ());
                stack.push((child, 0));
            } else {
                let sizes = Expanded {
                    selections: shape.expanded_with(&expanded),
                    top_typenames: shape.expanded_typenames_with(&expanded),
                };
                let name = *name;
                on_path.remove(name);
                expanded.insert(name, sizes);
                stack.pop();
            }
        }
    }
    Ok(expanded)
}

/// What lexing a text found: its tokens (counting stops just past the limit) and its deepest bracket nesting.
struct Lexed {
    tokens: usize,
    deepest: usize,
}

/// Counts GraphQL lexical tokens and bracket nesting, stopping once past `limit` tokens. It only needs to be
/// right about how many tokens a document has, not about their kinds: anything it cannot lex counts as a token
/// and is the parser's to refuse. Numbers follow the grammar closely, because `[0000]` is four values.
fn lex(text: &str, limit: usize) -> Lexed {
    let bytes = text.as_bytes();
    let mut lexed = Lexed { tokens: 0, deepest: 0 };
    let mut depth: usize = 0;
    let mut at = 0;
    while at < bytes.len() && lexed.tokens <= limit {
        match bytes[at] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                at += 1;
                continue;
            }
            b'#' => {
                while at < bytes.len() && bytes[at] != b'\n' && bytes[at] != b'\r' {
                    at += 1;
                }
                continue;
            }
            b'"' => at = skip_string(bytes, at),
            b'.' if bytes[at..].starts_with(b"...") => at += 3,
            b'{' | b'[' | b'(' => {
                depth += 1;
                lexed.deepest = lexed.deepest.max(depth);
                at += 1;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                at += 1;
            }
            b'-' | b'0'..=b'9' => at = skip_number(bytes, at),
            byte if byte == b'_' || byte.is_ascii_alphabetic() => {
                at += 1;
                while at < bytes.len() && (bytes[at] == b'_' || bytes[at].is_ascii_alphanumeric()) {
                    at += 1;
                }
            }
            byte if byte.is_ascii() => at += 1,
            // A character outside ASCII (a BOM, or text the parser will refuse) is skipped whole.
            _ => {
                at += 1;
                while at < bytes.len() && bytes[at] & 0xC0 == 0x80 {
                    at += 1;
                }
            }
        }
        lexed.tokens += 1;
    }
    lexed
}

/// The position after the number that starts at `start`: an integer part (a lone `0`, or digits not starting
/// with `0`), then an optional fraction and exponent.
fn skip_number(bytes: &[u8], start: usize) -> usize {
    let digits = |mut at: usize| {
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        at
    };
    let mut at = start + usize::from(bytes[start] == b'-');
    match bytes.get(at) {
        Some(b'0') => at += 1,
        Some(byte) if byte.is_ascii_digit() => at = digits(at),
        _ => return at.max(start + 1),
    }
    if bytes.get(at) == Some(&b'.') {
        at = digits(at + 1);
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        at = digits(at);
    }
    at
}

/// The position after the string (or block string) that starts at `start`, or the end of an unterminated one.
fn skip_string(bytes: &[u8], start: usize) -> usize {
    if bytes[start..].starts_with(b"\"\"\"") {
        let mut at = start + 3;
        while at < bytes.len() {
            if bytes[at..].starts_with(b"\\\"\"\"") {
                at += 4;
            } else if bytes[at..].starts_with(b"\"\"\"") {
                return at + 3;
            } else {
                at += 1;
            }
        }
        return bytes.len();
    }
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            b'\n' | b'\r' => return at,
            _ => at += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> DocumentBudget {
        DocumentBudget {
            max_query_bytes: 64 * 1024,
            max_tokens: 10_000,
            max_fields: 1_000,
            max_aliases: 30,
            max_directives: 5,
            max_arguments: 20,
            introspection: false,
        }
    }

    fn check(query: &str) -> Result<(), String> {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        budget().check_document(&document).map_err(|error| {
            let extensions = error.extensions.expect("extensions");
            match extensions.get("messageId") {
                Some(async_graphql::Value::String(id)) => id.clone(),
                other => panic!("no message id: {other:?}"),
            }
        })
    }

    fn doubling_chain(levels: usize) -> String {
        let mut query = String::from("{ ...F0 }");
        for level in 0..levels {
            query.push_str(&format!(
                " fragment F{level} on Query {{ ...F{next} ...F{next} }}",
                next = level + 1
            ));
        }
        query.push_str(&format!(" fragment F{levels} on Query {{ __typename }}"));
        query
    }

    #[test]
    fn a_doubling_fragment_chain_is_measured_expanded_and_refused() {
        assert_eq!(check(&doubling_chain(31)), Err("error-too-many-fields".into()));
        // 2^4 leaves and the spreads above them fit.
        assert!(check(&doubling_chain(4)).is_ok());
    }

    #[test]
    fn typename_counts_as_a_field() {
        let wide = format!("{{ {} }}", "__typename ".repeat(1_001));
        assert_eq!(check(&wide), Err("error-too-many-fields".into()));
    }

    #[test]
    fn a_fragment_cycle_is_a_validation_error_not_a_stack_overflow() {
        assert_eq!(
            check("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"),
            Err("error-fragment-cycle".into())
        );
        assert_eq!(
            check("{ ...A } fragment A on Query { ...A }"),
            Err("error-fragment-cycle".into())
        );
        let mut chain = String::from("{ ...F0 }");
        for level in 0..5_000 {
            chain.push_str(&format!(" fragment F{level} on Query {{ ...F{} }}", level + 1));
        }
        chain.push_str(" fragment F5000 on Query { ...F0 }");
        assert_eq!(check(&chain), Err("error-fragment-cycle".into()));
    }

    #[test]
    fn directives_and_arguments_are_bounded_per_selection() {
        assert_eq!(
            check("{ locales @a @a @a @a @a @a { code } }"),
            Err("error-too-many-directives".into())
        );
        let arguments: String = (0..21).map(|index| format!("x{index}: 0 ")).collect();
        assert_eq!(
            check(&format!("{{ __typename({arguments}) }}")),
            Err("error-too-many-arguments".into())
        );
    }

    #[test]
    fn aliases_are_counted_through_nesting_and_fragments() {
        let aliases: String = (0..31).map(|index| format!("a{index}: __typename ")).collect();
        assert_eq!(check(&format!("{{ {aliases} }}")), Err("error-too-many-aliases".into()));
        let nested = "query { a: me { b: name } ...F } fragment F on Query { c: me { id } d: __typename }";
        assert!(check(nested).is_ok());
    }

    #[test]
    fn an_alias_longer_than_64_bytes_is_refused_wherever_it_is_written() {
        let long = "a".repeat(65);
        assert_eq!(
            check(&format!("{{ me {{ {long}: name }} }}")),
            Err("error-alias-too-long".into())
        );
        assert_eq!(
            check(&format!("{{ ...F }} fragment F on Query {{ {long}: __typename }}")),
            Err("error-alias-too-long".into())
        );
        assert!(check(&format!("{{ {}: __typename }}", "a".repeat(64))).is_ok());
    }

    #[test]
    fn introspection_is_found_inside_fragments_but_typename_is_not_introspection() {
        assert_eq!(
            check("{ ...F } fragment F on Query { __type(name: \"User\") { name } }"),
            Err("error-introspection-disabled".into())
        );
        assert!(check("{ __typename me { __typename } }").is_ok());
    }

    #[test]
    fn unused_fragments_count_at_their_expanded_size() {
        let mut query = format!("{{ a }} fragment F on Query {{ {} }}", "a ".repeat(400));
        for index in 0..3 {
            query.push_str(&format!(" fragment G{index} on Query {{ ...F }}"));
        }
        assert_eq!(check(&query), Err("error-too-many-fields".into()));
    }

    #[test]
    fn typenames_are_bounded_per_selection_set_once_fragments_are_merged_in() {
        let many = format!(
            "{{ products {{ nodes {{ ...F }} }} }} fragment F on Product {{ {} }}",
            "__typename ".repeat(21)
        );
        assert_eq!(check(&many), Err("error-too-many-typenames".into()));
        let spread = "{ ...A ...B } fragment A on Query { __typename ...B } fragment B on Query { ".to_string()
            + &"__typename ".repeat(10)
            + "}";
        assert_eq!(check(&spread), Err("error-too-many-typenames".into()));
        let inline = format!("{{ ... on Query {{ {} }} __typename }}", "__typename ".repeat(20));
        assert_eq!(check(&inline), Err("error-too-many-typenames".into()));
        assert!(check("{ __typename me { __typename ...U } } fragment U on User { __typename id }").is_ok());
    }

    #[test]
    fn deeply_nested_values_are_refused_before_the_parser_recurses() {
        let budget = budget();
        let lists = format!("{{ a(x: {}{}) }}", "[".repeat(1_600), "]".repeat(1_600));
        let error = budget.check_text(&lists).expect_err("too deep");
        assert_eq!(
            error.extensions.expect("extensions").get("messageId"),
            Some(&async_graphql::Value::String("error-query-too-deep".into()))
        );
        let objects = format!("{{ a(x: {}1{}) }}", "{a: ".repeat(200), "}".repeat(200));
        assert!(budget.check_text(&objects).is_err());
        assert!(budget.check_text("{ a(x: [[1], {b: [2]}]) { c } }").is_ok());
    }

    fn count_tokens(text: &str, limit: usize) -> usize {
        lex(text, limit).tokens
    }

    #[test]
    fn tokens_are_counted_without_parsing() {
        assert_eq!(count_tokens("{ a b(c: \"x y\", d: 1.5e3) ...F }", 100), 14);
        assert_eq!(count_tokens("{a...F}", 100), 5);
        assert_eq!(count_tokens("# a comment\n{ a }", 100), 3);
        assert_eq!(count_tokens("{ a(s: \"\"\"block \\\"\"\" x\"\"\") }", 100), 8);
        // Each leading zero is a value of its own, as the grammar reads it.
        assert_eq!(count_tokens("[0000]", 100), 6);
        assert_eq!(count_tokens("[0.5 -0 10e-3 -12]", 100), 6);
        // Counting stops just past the limit, so a huge text costs no more than the limit.
        assert_eq!(count_tokens(&"a ".repeat(1_000_000), 10), 11);
    }

    #[test]
    fn text_over_the_byte_limit_is_refused_before_tokens() {
        let budget = budget();
        let error = budget.check_text(&"a".repeat(64 * 1024 + 1)).expect_err("too large");
        assert_eq!(
            error.extensions.expect("extensions").get("code"),
            Some(&async_graphql::Value::String("BAD_REQUEST".into()))
        );
        assert!(budget.check_text(&"a ".repeat(10_001)).is_err());
        assert!(budget.check_text("{ __typename }").is_ok());
    }
}
