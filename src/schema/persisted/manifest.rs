//! The trusted documents of `ALX_TRUSTED_DOCUMENTS`: a JSON manifest as client build tools write it, read once at
//! start-up. Two shapes are read: a flat object of hash → document (GraphQL Code Generator's client preset, Relay
//! with SHA-256 ids; keys may carry GraphQL-over-HTTP's `sha256:` prefix), and Apollo's persisted-query manifest
//! (`{ "format": "apollo-persisted-query-manifest", "version": 1, "operations": [{ "id", "body", … }] }`). Every id
//! must be the SHA-256 of its document: the hash is how requests name it, and a mismatch means the file is not
//! what the client will send.

use std::{
    collections::{HashMap, HashSet},
    num::NonZeroUsize,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use serde::Deserialize;
use serde_json::Value;

use super::{DocumentHash, SHA256_PREFIX};
use crate::cache::{Admission, CacheStats, Capacity, Policy};

const APOLLO_FORMAT: &str = "apollo-persisted-query-manifest";

pub struct Manifest {
    by_hash: HashMap<DocumentHash, Arc<str>>,
    texts: HashSet<Arc<str>>,
    /// Lookups that found a document, and lookups that did not, for `cacheStats(name: PERSISTED_QUERIES)`.
    found: AtomicU64,
    missed: AtomicU64,
}

#[derive(Deserialize)]
struct ApolloManifest {
    version: u64,
    operations: Vec<ApolloOperation>,
}

#[derive(Deserialize)]
struct ApolloOperation {
    id: String,
    #[serde(default)]
    name: Option<String>,
    body: String,
}

impl Manifest {
    /// Reads the manifest at `path`; the error is one line naming the setting, the file and what is wrong.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| anyhow::anyhow!("invalid setting ALX_TRUSTED_DOCUMENTS: {}: {error}", path.display()))?;
        Self::parse(&text)
            .map_err(|reason| anyhow::anyhow!("invalid setting ALX_TRUSTED_DOCUMENTS: {}: {reason}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let json: Value = serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
        let documents = match json {
            Value::Object(fields) if fields.get("format").and_then(Value::as_str) == Some(APOLLO_FORMAT) => {
                apollo_documents(Value::Object(fields))?
            }
            Value::Object(fields) => fields
                .into_iter()
                .map(|(key, value)| match value {
                    Value::String(body) => Ok((key, None, body)),
                    _ => Err(format!("the document of `{key}` is not a string")),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err("expected a JSON object of hash → document, or an Apollo persisted-query manifest".into()),
        };
        let mut manifest = Self {
            by_hash: HashMap::new(),
            texts: HashSet::new(),
            found: AtomicU64::new(0),
            missed: AtomicU64::new(0),
        };
        for (id, name, body) in documents {
            let label = name.map_or_else(|| format!("`{id}`"), |name| format!("`{id}` ({name})"));
            let hash = DocumentHash::from_hex(id.strip_prefix(SHA256_PREFIX).unwrap_or(&id))
                .ok_or_else(|| format!("the id {label} is not a SHA-256 hash (64 hexadecimal digits)"))?;
            let actual = DocumentHash::of(&body);
            if actual != hash {
                return Err(format!(
                    "the id {label} does not match its document, whose SHA-256 is {actual}"
                ));
            }
            async_graphql::parser::parse_query(&body)
                .map_err(|error| format!("the document {label} is not valid GraphQL: {error}"))?;
            let body: Arc<str> = body.into();
            manifest.texts.insert(body.clone());
            manifest.by_hash.insert(hash, body);
        }
        if manifest.by_hash.is_empty() {
            return Err("the manifest lists no documents, so nothing could run".into());
        }
        Ok(manifest)
    }

    pub fn find(&self, hash: DocumentHash) -> Option<Arc<str>> {
        self.counted(self.by_hash.get(&hash).cloned())
    }

    /// Whether `query` is, character for character, one of the documents.
    pub fn lists(&self, query: &str) -> bool {
        self.counted(self.texts.contains(query).then_some(())).is_some()
    }

    pub fn count(&self) -> usize {
        self.by_hash.len()
    }

    fn counted<T>(&self, lookup: Option<T>) -> Option<T> {
        let counter = if lookup.is_some() { &self.found } else { &self.missed };
        counter.fetch_add(1, Ordering::Relaxed);
        lookup
    }

    /// The manifest seen as a cache that holds everything: its size is its capacity, and it never evicts.
    pub fn stats(&self, policy: Policy) -> CacheStats {
        let count = self.count();
        CacheStats {
            policy,
            admission: Admission::Always,
            capacity: Capacity::Entries(NonZeroUsize::new(count).unwrap_or(NonZeroUsize::MIN)),
            size: count as u64,
            weight: count as u64,
            hits: self.found.load(Ordering::Relaxed),
            misses: self.missed.load(Ordering::Relaxed),
            evictions: 0,
            refusals: 0,
        }
    }
}

fn apollo_documents(json: Value) -> Result<Vec<(String, Option<String>, String)>, String> {
    let manifest: ApolloManifest =
        serde_json::from_value(json).map_err(|error| format!("not an Apollo persisted-query manifest: {error}"))?;
    if manifest.version != 1 {
        return Err(format!(
            "Apollo persisted-query manifest version {} is not supported (only 1 is)",
            manifest.version
        ));
    }
    Ok(manifest
        .operations
        .into_iter()
        .map(|operation| (operation.id, operation.name, operation.body))
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TYPENAME: &str = "{__typename}";
    const TYPENAME_HASH: &str = "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38";

    #[test]
    fn a_flat_object_maps_hashes_with_or_without_the_prefix() {
        let locales = "{ locales { code } }";
        let text = json!({
            TYPENAME_HASH: TYPENAME,
            format!("sha256:{}", DocumentHash::of(locales)): locales,
        })
        .to_string();
        let manifest = Manifest::parse(&text).expect("valid");
        assert_eq!(manifest.count(), 2);
        assert_eq!(manifest.find(DocumentHash::of(locales)).as_deref(), Some(locales));
        assert!(manifest.lists(TYPENAME));
        assert!(!manifest.lists("{ __typename }"), "texts match exactly");
    }

    #[test]
    fn apollo_manifests_are_read_by_operation() {
        let text = json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{ "id": TYPENAME_HASH, "name": "Typename", "type": "query", "body": TYPENAME }],
        })
        .to_string();
        let manifest = Manifest::parse(&text).expect("valid");
        assert_eq!(manifest.find(DocumentHash::of(TYPENAME)).as_deref(), Some(TYPENAME));
    }

    #[test]
    fn a_bad_manifest_says_what_is_wrong() {
        let wrong_hash = "0".repeat(64);
        for (text, expected) in [
            ("[]".to_string(), "expected a JSON object"),
            ("{".to_string(), "not JSON"),
            ("{}".to_string(), "lists no documents"),
            (json!({ TYPENAME_HASH: 1 }).to_string(), "is not a string"),
            (json!({ "typename": TYPENAME }).to_string(), "is not a SHA-256 hash"),
            (json!({ wrong_hash.clone(): TYPENAME }).to_string(), "does not match its document"),
            (
                json!({ DocumentHash::of("{").to_string(): "{" }).to_string(),
                "is not valid GraphQL",
            ),
            (
                json!({ "format": APOLLO_FORMAT, "version": 2, "operations": [] }).to_string(),
                "version 2 is not supported",
            ),
            (
                json!({ "format": APOLLO_FORMAT, "version": 1, "operations": [{ "id": wrong_hash, "name": "Typename", "body": TYPENAME }] }).to_string(),
                "(Typename) does not match",
            ),
        ] {
            let error = Manifest::parse(&text).err().unwrap_or_else(|| panic!("{text} was accepted"));
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
