//! The client's address, which the login and registration limits key on: the connection's peer, or, behind our own
//! proxies (`ALX_TRUST_FORWARDED_FOR`), the right-most `X-Forwarded-For` hop that they did not add.
//!
//! Each proxy appends the address it received the request from, so the right end of the header is written by
//! proxies we run and the left end by whoever sent the request: a client can put anything there. Hence:
//! - `ALX_TRUSTED_PROXIES=N` (default 1): the last N hops were added by our N proxies, and the N-th entry from the
//!   right is the client as our outermost proxy saw it. With one proxy, that is the right-most entry. A header
//!   with fewer entries did not come through all of them, so the peer is the client. A count cannot check who
//!   connects, so the server must be reachable only through the proxies.
//! - `ALX_TRUSTED_PROXIES=10.0.0.0/8,192.0.2.7`: the header counts only when the peer is one of these; then the
//!   walk goes from the right past every entry inside them, and the first entry outside is the client. When every
//!   entry is a proxy, the request began at one of them, and the left-most entry is the client.
//!
//! An entry that is not an address (`unknown`, an obfuscated name) cannot be keyed on; the hop that wrote it, the
//! nearest address we trust, stands in for it.

use std::net::{IpAddr, SocketAddr};

use axum::{extract::ConnectInfo, http::request::Parts};

use crate::config::TrustedProxies;

/// The request's client address; `trusted` is `None` when `X-Forwarded-For` is not trusted at all.
pub(super) fn of_request(parts: &Parts, trusted: Option<&TrustedProxies>) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let Some(trusted) = trusted else {
        return peer.map(|peer| peer.to_canonical());
    };
    // A repeated header is one list in order (RFC 9110, 5.3): a proxy may append a line instead of extending one.
    // Split as bytes, so that a client's unreadable entry spoils only itself, not the proxy's entry beside it.
    let hops = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| value.as_bytes().split(|byte| *byte == b','))
        .map(|hop| std::str::from_utf8(hop).unwrap_or_default());
    resolve(hops, peer, trusted)
}

/// The client among `hops` (the `X-Forwarded-For` entries, left to right) and `peer` (who connected to us).
fn resolve<'a>(
    hops: impl DoubleEndedIterator<Item = &'a str>,
    peer: Option<IpAddr>,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = peer.map(|peer| peer.to_canonical());
    let mut from_right = hops.rev().map(str::trim).filter(|hop| !hop.is_empty());
    match trusted {
        TrustedProxies::Count(count) => match from_right.nth(count.get() - 1) {
            Some(hop) => parse_hop(hop).or(peer),
            None => peer,
        },
        TrustedProxies::List(proxies) => {
            let is_proxy = |address: IpAddr| proxies.iter().any(|proxy| proxy.contains(&address));
            let mut nearest = match peer {
                Some(peer) if is_proxy(peer) => peer,
                other => return other,
            };
            for hop in from_right {
                match parse_hop(hop) {
                    Some(address) if is_proxy(address) => nearest = address,
                    Some(address) => return Some(address),
                    None => return Some(nearest),
                }
            }
            Some(nearest)
        }
    }
}

/// An address as proxies write it: bare, or with a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(|address| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn count(n: usize) -> TrustedProxies {
        TrustedProxies::Count(NonZeroUsize::new(n).expect("non-zero"))
    }

    fn list(networks: &[&str]) -> TrustedProxies {
        TrustedProxies::List(networks.iter().map(|net| net.parse().expect("a network")).collect())
    }

    fn client(header: &str, peer: &str, trusted: &TrustedProxies) -> Option<IpAddr> {
        resolve(header.split(','), Some(ip(peer)), trusted)
    }

    #[test]
    fn with_one_proxy_the_right_most_entry_is_the_client_whatever_the_client_wrote_before_it() {
        let one = count(1);
        assert_eq!(
            client("198.51.100.9, 203.0.113.7", "10.0.0.2", &one),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(client("203.0.113.7", "10.0.0.2", &one), Some(ip("203.0.113.7")));
        assert_eq!(
            client("1.1.1.1,2.2.2.2 , 3.3.3.3,203.0.113.7", "10.0.0.2", &one),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn with_a_count_of_n_the_nth_entry_from_the_right_is_the_client() {
        let two = count(2);
        assert_eq!(
            client("198.51.100.9, 203.0.113.7, 10.0.0.3", "10.0.0.2", &two),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            client("203.0.113.7", "10.0.0.2", &two),
            Some(ip("10.0.0.2")),
            "too few hops: it did not come through both proxies"
        );
    }

    #[test]
    fn without_the_header_or_with_garbage_where_the_client_should_be_the_peer_is_the_client() {
        assert_eq!(
            resolve(std::iter::empty(), Some(ip("10.0.0.2")), &count(1)),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(client("unknown", "10.0.0.2", &count(1)), Some(ip("10.0.0.2")));
        assert_eq!(client(" , ", "10.0.0.2", &count(1)), Some(ip("10.0.0.2")));
        assert_eq!(resolve(std::iter::empty(), None, &count(1)), None);
    }

    #[test]
    fn hops_with_ports_and_mapped_addresses_are_read_as_plain_addresses() {
        assert_eq!(
            client("203.0.113.7:4711", "10.0.0.2", &count(1)),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            client("[2001:db8::7]:4711", "10.0.0.2", &count(1)),
            Some(ip("2001:db8::7"))
        );
        assert_eq!(
            client("::ffff:203.0.113.7", "10.0.0.2", &count(1)),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn with_a_list_the_walk_skips_trusted_proxies_from_the_right() {
        let ours = list(&["10.0.0.0/8", "192.0.2.7/32"]);
        assert_eq!(
            client("198.51.100.9, 203.0.113.7, 192.0.2.7, 10.1.2.3", "10.0.0.2", &ours),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(client("203.0.113.7", "10.0.0.2", &ours), Some(ip("203.0.113.7")));
    }

    #[test]
    fn with_a_list_a_peer_outside_it_is_the_client_and_its_header_is_ignored() {
        let ours = list(&["10.0.0.0/8"]);
        assert_eq!(client("203.0.113.7", "198.51.100.50", &ours), Some(ip("198.51.100.50")));
    }

    #[test]
    fn with_a_list_a_request_made_by_a_proxy_is_its_own_client() {
        let ours = list(&["10.0.0.0/8"]);
        assert_eq!(client("10.9.9.9, 10.1.1.1", "10.0.0.2", &ours), Some(ip("10.9.9.9")));
        assert_eq!(
            resolve(std::iter::empty(), Some(ip("10.0.0.2")), &ours),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn with_a_list_an_unreadable_hop_is_replaced_by_the_proxy_that_wrote_it() {
        let ours = list(&["10.0.0.0/8", "2001:db8:ff::/48"]);
        assert_eq!(
            client("203.0.113.7, unknown, 10.1.1.1", "10.0.0.2", &ours),
            Some(ip("10.1.1.1"))
        );
        assert_eq!(
            client("198.51.100.9, 2001:db8:ff::1", "2001:db8:ff::2", &ours),
            Some(ip("198.51.100.9"))
        );
    }
}
