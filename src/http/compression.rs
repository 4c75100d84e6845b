//! Gzip for the answers of requests that accept it, with one deflate state per thread, reused.
//!
//! Not tower-http's `Compression` layer nor flate2's `GzEncoder`: both allocate deflate's ~300 kB state anew for
//! every response, and zeroing that allocation faults its pages in each time. On the uncached catalog listing that
//! cost far more than compressing it: gzipped through tower-http, 1,138–1,211 µs of CPU a request against 748–810
//! µs plain; with the state reused, 764–851 µs (bench/README.md). What is left by hand is gzip's 18 bytes of
//! framing around flate2's raw deflate (RFC 1952), and the `Accept-Encoding` check.
//!
//! Every answer this server writes is held whole in memory (JSON, the SDL, GraphiQL's assets), so it is
//! compressed in one go. A body of unknown length would be a stream; none exists, and one would be sent as it is.

use std::{
    cell::RefCell,
    convert::Infallible,
    task::{Context, Poll},
};

use axum::{
    body::{Body, Bytes, HttpBody},
    extract::Request,
    http::{HeaderMap, HeaderValue, header},
    response::Response,
};
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use futures_util::{
    FutureExt,
    future::{BoxFuture, Either, Map},
};
use tower::{Layer, Service};

/// An answer gzipped once and kept (a cached answer, an asset) is sent gzipped from this size on: below about 150
/// bytes gzip's 18 bytes of framing and deflate's block header make it longer, not shorter.
pub(super) const MIN_GZIP_BYTES: usize = 150;

/// An answer gzipped for one response only is compressed from this size on. Each compression first resets
/// deflate's tables, about 310 kB zeroed whatever the answer's size (25–30 µs of CPU a request on an error answer
/// of 200 bytes, bench/README.md), to save a few dozen bytes below it; CDNs draw the line near here too.
const MIN_BYTES_TO_GZIP_EACH_TIME: u64 = 1024;

pub fn layer() -> CompressionForAcceptingLayer {
    CompressionForAcceptingLayer
}

#[derive(Clone, Copy, Debug)]
pub struct CompressionForAcceptingLayer;

impl<S> Layer<S> for CompressionForAcceptingLayer {
    type Service = CompressionForAccepting<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CompressionForAccepting { inner }
    }
}

#[derive(Clone, Debug)]
pub struct CompressionForAccepting<S> {
    inner: S,
}

type Answer = Result<Response, Infallible>;

impl<S> Service<Request> for CompressionForAccepting<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<BoxFuture<'static, Answer>, Map<S::Future, fn(Answer) -> Answer>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if accepts_gzip(request.headers()) {
            let answer = self.inner.call(request);
            Either::Left(Box::pin(async move {
                let Ok(response) = answer.await;
                Ok(gzip_response(response).await)
            }))
        } else {
            // Every answer says `Vary: Accept-Encoding`, compressed or not, so that a shared cache never hands an
            // answer meant for one encoding to a client that asked for another.
            Either::Right(self.inner.call(request).map(vary_by_encoding as fn(_) -> _))
        }
    }
}

fn vary_by_encoding(answer: Answer) -> Answer {
    answer.map(|mut response| {
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("accept-encoding"));
        response
    })
}

/// The response with its body gzipped, when that is worth doing; its headers say so either way.
async fn gzip_response(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let whole_and_large_enough = body
        .size_hint()
        .exact()
        .is_some_and(|length| length >= MIN_BYTES_TO_GZIP_EACH_TIME);
    if !whole_and_large_enough || parts.headers.contains_key(header::CONTENT_ENCODING) || !compressible(&parts.headers)
    {
        return Response::from_parts(parts, body);
    }
    // A body of known length is in memory already: collecting it does not wait, and cannot fail.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(_) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            return Response::from_parts(parts, Body::empty());
        }
    };
    let Some(compressed) = gzip(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    Response::from_parts(parts, Body::from(compressed))
}

/// Text the server writes; never images, which are compressed already, nor an event stream, which must flow.
fn compressible(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    (essence.starts_with("text/") && essence != "text/event-stream")
        || essence == "application/json"
        || essence == "application/graphql-response+json"
        || essence == "application/javascript"
}

/// Whether `Accept-Encoding` takes gzip: named (`gzip` or `x-gzip`) with a q-value above 0, or, when not named,
/// `*` with one (RFC 9110 12.5.3).
pub(super) fn accepts_gzip(headers: &HeaderMap) -> bool {
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

thread_local! {
    /// Raw deflate at the fastest level: a 3.2 kB answer compressed at the default level cost 1,066 µs of CPU
    /// against 659 µs at the fastest, for 366 bytes instead of 341 (bench/README.md, measured with tower-http).
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(Compression::fast(), false));
}

/// Magic, deflate, no flags, no time, "fastest" (RFC 1952 2.3.1's XFL 4), unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff];

/// `bytes` as a gzip member; `None` only if deflate refused to work, which it does not on a reset state.
pub fn gzip(bytes: &[u8]) -> Option<Bytes> {
    let mut out = Vec::with_capacity(GZIP_HEADER.len() + bytes.len() / 4 + 64);
    out.extend_from_slice(&GZIP_HEADER);
    DEFLATE.with_borrow_mut(|deflate| {
        // Also forgets a compression a panic left half done.
        deflate.reset();
        loop {
            let consumed = usize::try_from(deflate.total_in())
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            // `compress_vec` writes into the spare capacity only; it stops short when that runs out.
            out.reserve(64.max(out.capacity() / 2));
            match deflate.compress_vec(&bytes[consumed..], &mut out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => return Some(()),
                Ok(Status::Ok | Status::BufError) => {}
                Err(_) => return None,
            }
        }
    })?;
    let mut crc = Crc::new();
    crc.update(bytes);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952 2.3.1).
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use proptest::prelude::*;

    use super::*;

    fn gunzip(compressed: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(compressed)
            .read_to_end(&mut plain)
            .expect("a valid gzip member");
        plain
    }

    #[test]
    fn gzip_round_trips_answers_of_every_size_one_after_another_on_one_thread() {
        let listing =
            br#"{"data":{"products":{"nodes":[{"name":"Chair","price":"12.50","currentStock":3}]}}}"#.repeat(50);
        // Beyond deflate's 32 KiB window and its output buffer, and a body that does not compress at all.
        let large = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect::<Vec<_>>();
        let noise = (0..5_000u64)
            .map(|i| (i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 33) as u8)
            .collect::<Vec<_>>();
        for body in [&b""[..], b"x", &listing, &large, &noise, &listing] {
            let compressed = gzip(body).expect("gzipped");
            assert_eq!(gunzip(&compressed), body, "{} bytes", body.len());
            assert_eq!(&compressed[..2], &[0x1f, 0x8b]);
        }
        assert!(
            gzip(&listing).expect("gzipped").len() < listing.len() / 10,
            "repetitive JSON compresses well"
        );
    }

    proptest! {
        #[test]
        fn gzip_round_trips_any_bytes(body in proptest::collection::vec(any::<u8>(), 0..20_000)) {
            prop_assert_eq!(gunzip(&gzip(&body).expect("gzipped")), body);
        }
    }

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

    #[test]
    fn only_text_the_server_writes_is_compressed() {
        for (content_type, expected) in [
            ("application/json", true),
            ("application/graphql-response+json; charset=utf-8", true),
            ("text/html; charset=utf-8", true),
            ("text/javascript", true),
            ("image/png", false),
            ("text/event-stream", false),
            ("application/octet-stream", false),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            assert_eq!(compressible(&headers), expected, "{content_type}");
        }
        assert!(!compressible(&HeaderMap::new()));
    }
}
