//! A stored answer as an HTTP response: its body, or 304 when the client already holds it, with the caching
//! headers (`Cache-Control`, `ETag`, `Vary`, `x-cache`).

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::compression::{MIN_GZIP_BYTES, accepts_gzip};
use crate::schema::response_cache::CachedResponse;

static X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// Room for the names a cached answer leaves with: ours below (six or seven), the request id, and a few to spare
/// (the compression and CORS layers' `Vary` lines join ours under one name). Reserved at once: a map filled from
/// empty grew and rehashed twice on every hit.
const RESPONSE_HEADERS: usize = 12;

/// How a cacheable answer may be kept downstream, and whether `If-None-Match` applies.
pub struct CacheScope {
    pub private: bool,
    pub conditional: bool,
}

/// `x-cache`: whether the answer came from the response cache.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    Hit,
    Miss,
}

pub fn response(
    content_type: &'static str,
    answer: &CachedResponse,
    source: Source,
    headers: &HeaderMap,
    locale: &'static str,
    scope: CacheScope,
) -> Response {
    // Gzipped here, once per answer, rather than by the compression layer on every response, which leaves an
    // answer that already has a Content-Encoding alone (and says `Vary: Accept-Encoding` on every answer).
    let gzipped = (answer.body.len() >= MIN_GZIP_BYTES && accepts_gzip(headers))
        .then(|| answer.gzipped())
        .flatten();
    let etag = if gzipped.is_some() {
        &answer.gzipped_etag
    } else {
        &answer.etag
    };
    let not_modified = scope.conditional
        && headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|tags| tags.split(','))
            .map(str::trim)
            // Weak comparison (RFC 9110 8.8.3.2): a weak tag matches the strong one it names.
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == etag);
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, Body::from(gzipped.unwrap_or(&answer.body).clone())).into_response()
    };
    let response_headers = response.headers_mut();
    response_headers.reserve(RESPONSE_HEADERS);
    if !not_modified {
        response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    response_headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(locale));
    // The body is the same in both media types, but its Content-Type is not.
    response_headers.insert(header::VARY, HeaderValue::from_static("Accept, Accept-Language"));
    if let Some(cache_control) = cache_control(scope.private, answer.remaining_age()) {
        response_headers.insert(header::CACHE_CONTROL, cache_control);
    }
    if let Ok(etag) = HeaderValue::from_maybe_shared(etag.clone()) {
        response_headers.insert(header::ETAG, etag);
    }
    let x_cache = match source {
        Source::Hit => "HIT",
        Source::Miss => "MISS",
    };
    response_headers.insert(X_CACHE.clone(), HeaderValue::from_static(x_cache));
    if gzipped.is_some() && !not_modified {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// `public, max-age=N` or `private, max-age=N`, without `format!`'s machinery (a tenth of a hit's instructions,
/// with the map's growth above).
fn cache_control(private: bool, max_age: u32) -> Option<HeaderValue> {
    let visibility: &[u8] = if private {
        b"private, max-age="
    } else {
        b"public, max-age="
    };
    let mut digits = itoa::Buffer::new();
    let value = [visibility, digits.format(max_age).as_bytes()].concat();
    HeaderValue::from_maybe_shared(Bytes::from(value)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_names_the_visibility_and_the_seconds_left() {
        let value = |private, seconds| cache_control(private, seconds).expect("a valid header value");
        assert_eq!(value(false, 0), "public, max-age=0");
        assert_eq!(value(true, 3600), "private, max-age=3600");
        assert_eq!(value(false, u32::MAX), "public, max-age=4294967295");
    }
}
