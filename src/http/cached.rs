//! A stored answer as an HTTP response: its body, or 304 when the client already holds it, with the caching
//! headers (`Cache-Control`, `ETag`, `Vary`, `x-cache`).

use axum::{
    body::Body,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::schema::response_cache::CachedResponse;

static X_CACHE: HeaderName = HeaderName::from_static("x-cache");

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
    let not_modified = scope.conditional
        && headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|tags| tags.split(','))
            .map(str::trim)
            // Weak comparison (RFC 9110 8.8.3.2): a weak tag matches the strong one it names.
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == answer.etag);
    // Gzipped here, once per answer, rather than by the compression layer on every response, which leaves an
    // answer that already has a Content-Encoding alone.
    let gzipped = (!not_modified && answer.body.len() >= MIN_GZIP_BYTES && accepts_gzip(headers))
        .then(|| answer.gzipped())
        .flatten();
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, Body::from(gzipped.unwrap_or(&answer.body).clone())).into_response()
    };
    let visibility = if scope.private { "private" } else { "public" };
    let response_headers = response.headers_mut();
    if !not_modified {
        response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    response_headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(locale));
    // The body is the same in both media types, but its Content-Type is not.
    response_headers.insert(header::VARY, HeaderValue::from_static("Accept, Accept-Language"));
    if let Ok(cache_control) = HeaderValue::from_str(&format!("{visibility}, max-age={}", answer.remaining_age())) {
        response_headers.insert(header::CACHE_CONTROL, cache_control);
    }
    if let Ok(etag) = HeaderValue::from_maybe_shared(answer.etag.clone()) {
        response_headers.insert(header::ETAG, etag);
    }
    let x_cache = match source {
        Source::Hit => "HIT",
        Source::Miss => "MISS",
    };
    response_headers.insert(X_CACHE.clone(), HeaderValue::from_static(x_cache));
    if gzipped.is_some() {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response_headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// Smaller answers are sent as they are, as the compression layer (tower-http's default) leaves them.
const MIN_GZIP_BYTES: usize = 32;

/// Whether `Accept-Encoding` takes gzip: named (`gzip` or `x-gzip`) with a q-value above 0, or, when not named,
/// `*` with one (RFC 9110 12.5.3).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    for coding in headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|codings| codings.split(','))
    {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let weight = parts
            .find_map(|parameter| parameter.strip_prefix("q=").or_else(|| parameter.strip_prefix("Q=")))
            .map_or(Some(1.0), |q| q.parse::<f32>().ok());
        let accepted = weight.is_some_and(|q| q > 0.0);
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(accepted);
        } else if name == "*" {
            any = Some(accepted);
        }
    }
    gzip.or(any).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(values: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).expect("a header value"),
            );
        }
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_is_taken_when_named_or_covered_by_a_star_with_a_weight_above_zero() {
        for taken in [
            &["gzip"][..],
            &["gzip, deflate, br"],
            &["br;q=1.0, GZIP;q=0.5"],
            &["x-gzip"],
            &["*"],
            &["identity", "gzip"],
        ] {
            assert!(accepting(taken), "{taken:?}");
        }
        for refused in [
            &[][..],
            &[""],
            &["identity"],
            &["br, deflate"],
            &["gzip;q=0"],
            &["gzip;q=0.000"],
            &["*, gzip;q=0"],
            &["*;q=0"],
            &["gzip;q=junk"],
            &["gzipped"],
        ] {
            assert!(!accepting(refused), "{refused:?}");
        }
    }
}
