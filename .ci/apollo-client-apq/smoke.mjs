#!/usr/bin/env node
// Apollo Client 4 with its persisted-queries link, unmodified, against alx-backend.
//
// Usage:
//   npm ci
//   node smoke.mjs http://127.0.0.1:8080/graphql
//
// For POST and for `useGETForHashedQueries`, a first client sends the hash alone, is told
// PersistedQueryNotFound, sends the query with its hash (registering it), and then runs it by hash alone; a
// second client (another browser) runs it by hash from its first request. Prints each HTTP exchange and exits
// with status 1 if any step is not the one expected.

import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { createHash } from 'node:crypto';

const url = process.argv[2];
if (!url) {
  console.error('usage: node smoke.mjs <graphql-endpoint-url>');
  process.exit(2);
}

const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const exchanges = [];
const recordingFetch = async (uri, options) => {
  const response = await fetch(uri, options);
  const answer = await response.clone().json();
  const sentQuery = options.body ? 'query' in JSON.parse(options.body) : new URL(uri).searchParams.has('query');
  const outcome = answer.errors?.[0]?.extensions?.code ?? (answer.data ? 'data' : 'nothing');
  exchanges.push(`${options.method} ${sentQuery ? 'query+hash' : 'hash'} -> ${response.status} ${outcome}`);
  return response;
};

const client = (useGETForHashedQueries) =>
  new ApolloClient({
    link: new PersistedQueryLink({ sha256, useGETForHashedQueries }).concat(
      new HttpLink({ uri: url, fetch: recordingFetch }),
    ),
    cache: new InMemoryCache(),
  });

let failed = false;
for (const useGET of [false, true]) {
  const hashed = useGET ? 'GET' : 'POST';
  // A name per run, so that the GET run starts from a hash the server has not seen.
  const query = gql(`query Locales${hashed} { locales { code } }`);
  exchanges.length = 0;
  const first = client(useGET);
  const results = [
    await first.query({ query, fetchPolicy: 'network-only' }),
    await first.query({ query, fetchPolicy: 'network-only' }),
    await client(useGET).query({ query, fetchPolicy: 'network-only' }),
  ];
  const expected = [
    `${hashed} hash -> 200 PERSISTED_QUERY_NOT_FOUND`,
    'POST query+hash -> 200 data',
    `${hashed} hash -> 200 data`,
    `${hashed} hash -> 200 data`,
  ];
  const ok =
    JSON.stringify(exchanges) === JSON.stringify(expected) &&
    results.every((result) => result.data?.locales?.length > 0);
  failed ||= !ok;
  console.log(`${ok ? 'PASS' : 'FAIL'} useGETForHashedQueries: ${useGET}`);
  for (const exchange of exchanges) console.log(`  ${exchange}`);
}
process.exit(failed ? 1 : 0);
