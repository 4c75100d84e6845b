//! Persisted documents: a request may name its document by hash instead of sending it. Apollo's automatic
//! persisted queries (`extensions.persistedQuery { version: 1, sha256Hash }`) and GraphQL-over-HTTP's `documentId`
//! (`sha256:<hex>`) both name one here. By default the hashes come from a store that clients fill themselves
//! (APQ: a hash-only request for an unknown hash is `PERSISTED_QUERY_NOT_FOUND`, and the client sends the query
//! with its hash); with `ALX_TRUSTED_DOCUMENTS` they come from a manifest fixed at start-up, and nothing else runs.

mod manifest;
mod repo;
mod store;

use std::{collections::HashSet, fmt};

use async_graphql::{
    Request, ServerError, Value,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};
use sha2::{Digest, Sha256};

pub use manifest::Manifest;
pub use store::{MAX_STORED_DOCUMENTS, Store};

use crate::{
    cache::{CacheStats, Policy},
    error::{ErrorCode, Message},
    graphql::errors::request_error,
};

/// The request extension of Apollo's protocol.
const PERSISTED_QUERY: &str = "persistedQuery";
/// The only version of Apollo's protocol there is.
const APQ_VERSION: i64 = 1;
/// How GraphQL-over-HTTP prefixes a SHA-256 document id.
const SHA256_PREFIX: &str = "sha256:";

/// A request as a transport received it: the GraphQL request, and the `documentId` that GraphQL-over-HTTP's
/// persisted documents send instead of a query (HTTP only; WebSocket payloads have no such field).
pub struct Submitted {
    pub request: Request,
    pub document_id: Option<String>,
}

impl From<Request> for Submitted {
    fn from(request: Request) -> Self {
        Self {
            request,
            document_id: None,
        }
    }
}

impl Submitted {
    /// It sends no query and names no persisted document: there is nothing to run.
    pub fn names_no_document(&self) -> bool {
        self.request.query.trim().is_empty()
            && self.document_id.is_none()
            && !self.request.extensions.contains_key(PERSISTED_QUERY)
    }
}

/// The SHA-256 of a document's text, which names it in both protocols.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DocumentHash([u8; 32]);

impl DocumentHash {
    pub fn of(text: &str) -> Self {
        Self(Sha256::digest(text.as_bytes()).into())
    }

    /// 64 hexadecimal digits, in either case; anything else is `None`.
    pub fn from_hex(text: &str) -> Option<Self> {
        let digits = text.as_bytes();
        if digits.len() != 64 {
            return None;
        }
        let mut bytes = [0; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Some(Self(bytes))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Lower-case hex, as clients compute it and as the store keeps it.
impl fmt::Display for DocumentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for DocumentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentHash({self})")
    }
}

/// Where the hashes come from.
pub enum PersistedDocuments {
    /// Automatic persisted queries: clients register documents in a store shared through the database.
    Automatic(Box<Store>),
    /// Only the manifest's documents run; `introspection` lets introspection-only documents through as well.
    Trusted { manifest: Manifest, introspection: bool },
}

/// What the engine must still do for a request once its document is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Nothing: run it.
    Ready,
    /// A query came with its hash and is not stored yet: store it once it has passed validation.
    Register(DocumentHash),
    /// Trusted mode, and the manifest does not list the query: it may run only if it is introspection alone and
    /// introspection is on (`PersistedDocuments::refuses_unlisted`).
    Unlisted,
}

impl PersistedDocuments {
    /// Fills the request's query from the document it names, or checks a query against the hash sent with it.
    /// Refusals are about the request as a whole: a malformed reference (`BAD_REQUEST`), an unknown hash
    /// (`PERSISTED_QUERY_NOT_FOUND`, or `PERSISTED_QUERY_NOT_IN_LIST` in trusted mode).
    pub async fn resolve(&self, request: &mut Request, document_id: Option<&str>) -> Result<Resolved, ServerError> {
        let hash = named_hash(request, document_id)?;
        let has_query = !request.query.is_empty();
        if let Some(hash) = hash
            && has_query
            && DocumentHash::of(&request.query) != hash
        {
            // Apollo's rule: a hash must not be bound to another document than its own ("hash hijacking").
            return Err(bad_request("error-persisted-query-mismatch"));
        }
        match (self, hash) {
            (Self::Automatic(_), None) => Ok(Resolved::Ready),
            (Self::Automatic(store), Some(hash)) if has_query => Ok(if store.holds(hash) {
                Resolved::Ready
            } else {
                Resolved::Register(hash)
            }),
            (Self::Automatic(store), Some(hash)) => match store.find(hash).await {
                Ok(Some(query)) => {
                    request.query = String::from(&*query);
                    Ok(Resolved::Ready)
                }
                Ok(None) => Err(request_error(
                    ErrorCode::PersistedQueryNotFound,
                    Message::new("error-persisted-query-not-found"),
                )),
                Err(error) => Err(store::lookup_failed(error)),
            },
            (Self::Trusted { manifest, .. }, Some(hash)) => match manifest.find(hash) {
                Some(_) if has_query => Ok(Resolved::Ready),
                Some(query) => {
                    request.query = String::from(&*query);
                    Ok(Resolved::Ready)
                }
                None if has_query => Err(not_listed("error-document-not-trusted")),
                None => Err(not_listed("error-document-id-not-listed")),
            },
            (Self::Trusted { manifest, .. }, None) => Ok(if manifest.lists(&request.query) {
                Resolved::Ready
            } else {
                Resolved::Unlisted
            }),
        }
    }

    /// Refuses a document the manifest does not list, unless it only introspects and introspection is on:
    /// trusted documents decide what runs against the data, and `ALX_INTROSPECTION` alone decides introspection.
    pub fn refuses_unlisted(&self, document: &ExecutableDocument) -> Result<(), ServerError> {
        match self {
            Self::Trusted {
                introspection: true, ..
            } if introspection_only(document) => Ok(()),
            _ => Err(not_listed("error-document-not-trusted")),
        }
    }

    /// The counters of this instance's store, or of the manifest in trusted mode (reported with `policy`, the
    /// configured one, since a manifest replaces nothing).
    pub fn stats(&self, policy: Policy) -> CacheStats {
        match self {
            Self::Automatic(store) => store.stats(),
            Self::Trusted { manifest, .. } => manifest.stats(policy),
        }
    }

    /// Keeps a document that passed validation under its hash; trusted mode never registers.
    pub async fn register(&self, hash: DocumentHash, query: &str) {
        if let Self::Automatic(store) = self {
            store.register(hash, query).await;
        }
    }
}

/// The hash a request names its document by, if any: `extensions.persistedQuery` or `documentId`, never both.
fn named_hash(request: &Request, document_id: Option<&str>) -> Result<Option<DocumentHash>, ServerError> {
    let persisted = request.extensions.get(PERSISTED_QUERY);
    if let Some(id) = document_id {
        if !request.query.is_empty() || persisted.is_some() {
            return Err(bad_request("error-document-id-with-query"));
        }
        let hex = id.strip_prefix(SHA256_PREFIX).unwrap_or(id);
        return DocumentHash::from_hex(hex)
            .map(Some)
            .ok_or_else(|| bad_request("error-document-id-invalid"));
    }
    let Some(persisted) = persisted else {
        return Ok(None);
    };
    let field = |name: &str| match persisted {
        Value::Object(fields) => fields.get(name),
        _ => None,
    };
    let version = match field("version") {
        Some(Value::Number(number)) => number.as_i64(),
        _ => None,
    };
    if version != Some(APQ_VERSION) {
        return Err(bad_request("error-persisted-query-version"));
    }
    match field("sha256Hash") {
        Some(Value::String(hex)) => DocumentHash::from_hex(hex)
            .map(Some)
            .ok_or_else(|| bad_request("error-persisted-query-hash")),
        _ => Err(bad_request("error-persisted-query-hash")),
    }
}

fn bad_request(id: &'static str) -> ServerError {
    request_error(ErrorCode::BadRequest, Message::new(id))
}

fn not_listed(id: &'static str) -> ServerError {
    request_error(ErrorCode::PersistedQueryNotInList, Message::new(id))
}

/// Whether every operation asks for nothing but `__schema`, `__type` and `__typename` at its root.
fn introspection_only(document: &ExecutableDocument) -> bool {
    let mut seen = HashSet::new();
    document
        .operations
        .iter()
        .all(|(_, operation)| only_introspects(&operation.node.selection_set.node, document, &mut seen))
}

fn only_introspects<'a>(set: &'a SelectionSet, document: &'a ExecutableDocument, seen: &mut HashSet<&'a str>) -> bool {
    set.items.iter().all(|selection| match &selection.node {
        Selection::Field(field) => matches!(field.node.name.node.as_str(), "__schema" | "__type" | "__typename"),
        Selection::InlineFragment(fragment) => only_introspects(&fragment.node.selection_set.node, document, seen),
        Selection::FragmentSpread(spread) => {
            let name = spread.node.fragment_name.node.as_str();
            // A fragment met again was (or is being) checked where it was first met.
            !seen.insert(name)
                || document
                    .fragments
                    .get(name)
                    .is_some_and(|fragment| only_introspects(&fragment.node.selection_set.node, document, seen))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPENAME_HASH: &str = "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38";

    fn request_with(extensions: serde_json::Value, query: &str) -> Request {
        serde_json::from_value(serde_json::json!({ "query": query, "extensions": extensions })).expect("a request")
    }

    fn refusal(result: Result<Option<DocumentHash>, ServerError>) -> String {
        let error = result.expect_err("refused");
        match error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("messageId"))
        {
            Some(Value::String(id)) => id.clone(),
            other => panic!("no message id: {other:?}"),
        }
    }

    #[test]
    fn a_hash_is_the_sha256_of_the_text_in_lower_case_hex() {
        let hash = DocumentHash::of("{__typename}");
        assert_eq!(hash.to_string(), TYPENAME_HASH);
        assert_eq!(DocumentHash::from_hex(TYPENAME_HASH), Some(hash));
        assert_eq!(DocumentHash::from_hex(&TYPENAME_HASH.to_uppercase()), Some(hash));
    }

    #[test]
    fn anything_but_64_hex_digits_is_not_a_hash() {
        for text in [
            "",
            &TYPENAME_HASH[..63],
            &format!("{TYPENAME_HASH}0"),
            &TYPENAME_HASH.replace('e', "g"),
            &"é".repeat(32),
            &"0".repeat(100_000),
        ] {
            assert_eq!(DocumentHash::from_hex(text), None, "{text:.70}");
        }
    }

    #[test]
    fn apollo_extension_needs_version_1_and_a_well_formed_hash() {
        let named = |extension: serde_json::Value| named_hash(&request_with(extension, ""), None);
        let hash = named(serde_json::json!({ "persistedQuery": { "version": 1, "sha256Hash": TYPENAME_HASH } }));
        assert_eq!(hash.expect("accepted"), DocumentHash::from_hex(TYPENAME_HASH));
        for wrong_version in [
            serde_json::json!({ "persistedQuery": { "version": 2, "sha256Hash": TYPENAME_HASH } }),
            serde_json::json!({ "persistedQuery": { "version": "1", "sha256Hash": TYPENAME_HASH } }),
            serde_json::json!({ "persistedQuery": { "sha256Hash": TYPENAME_HASH } }),
            serde_json::json!({ "persistedQuery": TYPENAME_HASH }),
        ] {
            assert_eq!(refusal(named(wrong_version)), "error-persisted-query-version");
        }
        for wrong_hash in [
            serde_json::json!({ "persistedQuery": { "version": 1 } }),
            serde_json::json!({ "persistedQuery": { "version": 1, "sha256Hash": 42 } }),
            serde_json::json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
        ] {
            assert_eq!(refusal(named(wrong_hash)), "error-persisted-query-hash");
        }
        assert_eq!(named(serde_json::json!({ "other": true })).expect("no reference"), None);
    }

    #[test]
    fn a_document_id_is_sha256_prefixed_or_plain_hex_and_comes_alone() {
        let plain = Request::new("");
        let expected = DocumentHash::from_hex(TYPENAME_HASH);
        let prefixed = format!("sha256:{TYPENAME_HASH}");
        assert_eq!(named_hash(&plain, Some(&prefixed)).expect("accepted"), expected);
        assert_eq!(named_hash(&plain, Some(TYPENAME_HASH)).expect("accepted"), expected);
        assert_eq!(
            refusal(named_hash(&plain, Some(&format!("md5:{TYPENAME_HASH}")))),
            "error-document-id-invalid"
        );
        assert_eq!(
            refusal(named_hash(&Request::new("{ __typename }"), Some(&prefixed))),
            "error-document-id-with-query"
        );
        let with_extension = request_with(
            serde_json::json!({ "persistedQuery": { "version": 1, "sha256Hash": TYPENAME_HASH } }),
            "",
        );
        assert_eq!(
            refusal(named_hash(&with_extension, Some(&prefixed))),
            "error-document-id-with-query"
        );
    }

    #[test]
    fn introspection_only_looks_through_fragments_at_the_root() {
        let only = |query: &str| introspection_only(&async_graphql::parser::parse_query(query).expect("parses"));
        assert!(only("{ __schema { types { name } } __typename }"));
        assert!(only(
            "query A { ...F } fragment F on Query { ... on Query { __type(name: \"X\") { name } } }"
        ));
        assert!(!only("{ __typename me { id } }"));
        assert!(!only(
            "query A { __typename } query B { ...F } fragment F on Query { locales { code } }"
        ));
    }
}
