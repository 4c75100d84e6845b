## Errors shown to API clients. Variables: { $field } names an argument.

error-invalid-json = The request body is not valid JSON: { $detail }
error-unsupported-media-type = Send the GraphQL request as application/json.
error-csrf = This request was blocked to prevent cross-site request forgery. Send it with Content-Type: application/json, or add the header apollo-require-preflight: true.
error-body-too-large = The request body is larger than the limit of { $limit } bytes.
error-body-timeout = The request body did not arrive in time.
error-request-timeout = The request took too long and was stopped.
error-websocket-protocol = Open the WebSocket with the graphql-transport-ws or graphql-ws sub-protocol.
error-websocket-upgrade = This WebSocket upgrade could not be made: { $detail }
error-missing-query = The request has no GraphQL query.
error-batch-too-large = A batch may hold at most { $limit } operations.
error-mutation-over-get = Mutations and subscriptions can only be sent with POST.
error-method-not-allowed = /graphql accepts GET and POST, not { $method }.
error-not-acceptable = This server answers with application/graphql-response+json or application/json.
error-parse-failed = The GraphQL query could not be parsed.
error-validation-failed = The GraphQL query is not valid against the schema.
error-query-too-complex = The query is too complex. Ask for fewer or less deeply nested fields.
error-query-too-deep = The query is nested too deeply.
error-introspection-disabled = Introspection is disabled on this server. Download the schema from /schema.graphql instead.
error-too-many-aliases = The query uses more than { $limit } aliases.
error-alias-too-long = An alias in the query is longer than { $limit } bytes.
error-document-too-large = The query text is longer than the limit of { $limit } bytes.
error-too-many-tokens = The query is longer than the limit of { $limit } tokens.
error-too-many-fields = The query selects more than { $limit } fields once its fragments are expanded.
error-too-many-typenames = A selection of the query asks for __typename more than { $limit } times.
error-too-many-directives = A field of the query carries more than { $limit } directives.
error-too-many-arguments = A field of the query has more than { $limit } arguments.
error-fragment-cycle = The fragment { $fragment } spreads itself, directly or through other fragments.
error-more-errors = …and { $count } more errors.
error-query-timeout = The query took too long to run and was stopped.
error-invalid-argument = The value given for { $field } is not valid.
error-internal = Something went wrong on our side. Quote the request id when you report it.
error-forbidden = You are not allowed to do this.
error-not-found = Nothing was found with that id.
error-rate-limited = Too many attempts. Try again in { $seconds } seconds.
error-page-size-too-large = { $field } may be at most { $max }.
error-page-size-negative = { $field } must not be negative.
error-first-and-last = Use either first or last, not both.
error-invalid-cursor = The cursor given for { $field } is not valid for this list.
error-invalid-id = The id given for { $field } is not a valid id.
error-wrong-id-type = The id given for { $field } does not belong to a { $expected }.
error-control-characters = { $field } must not contain control characters.

## Persisted documents (automatic persisted queries, documentId, trusted documents).
# A protocol token rather than a sentence: Apollo clients match this exact text to send the query. Never translate it.
error-persisted-query-not-found = PersistedQueryNotFound
error-persisted-query-version = Unsupported persisted query version: extensions.persistedQuery must have version 1.
error-persisted-query-hash = extensions.persistedQuery.sha256Hash must be the SHA-256 of the query as 64 hexadecimal digits.
error-persisted-query-mismatch = The query does not match its hash: extensions.persistedQuery.sha256Hash must be the SHA-256 of the query text.
error-document-id-invalid = documentId must be sha256: followed by the document's SHA-256 as 64 hexadecimal digits.
error-document-id-with-query = A request with a documentId sends neither a query nor a persistedQuery extension.
error-document-id-not-listed = No trusted document has this hash.
error-document-not-trusted = This server runs only its trusted documents, and this query is not one of them.

## Authentication
auth-required = You must be logged in to do this.
auth-token-invalid = The access token is not valid.
auth-token-expired = The access token has expired. Refresh it and try again.
auth-invalid-credentials = The email or password is incorrect.
auth-refresh-token-invalid = The refresh token is not valid or has expired.
auth-refresh-token-reused = This refresh token was already used. All sessions started from it have been signed out.
auth-user-gone = The account behind this token no longer exists.

## Accounts
account-email-invalid = Enter a valid email address.
account-email-taken = An account with this email already exists.
account-password-too-short = The password must be at least { $min } characters long.
account-password-too-long = The password must be at most { $max } characters long.
account-name-empty = The name must not be empty.
account-name-too-long = The name must be at most { $max } characters long.
account-locale-unsupported = The locale { $value } is not supported.
account-timezone-unknown = { $value } is not a known IANA time zone.

## Welcome
welcome-title = Welcome to alx-backend
welcome-greeting = Hello, world!
welcome-logged-in-as = You are logged in as { $name }.
welcome-not-logged-in = You are not logged in.

## Catalog
price-usd = ${ $amount }
catalog-product-name-empty = The product name must not be empty.
catalog-price-negative = The price must not be negative.
catalog-stock-negative = The stock must not be negative.
catalog-stock-below-reserved = The stock cannot be lower than the { $reserved } units already reserved.
catalog-quantity-not-positive = The quantity must be at least 1.
catalog-out-of-stock = Only { $available } left in stock; { $requested } requested.
catalog-product-has-reservations = This product has reservations; cancel them before deleting it.
catalog-event-name-empty = The event name must not be empty.
catalog-capacity-negative = The capacity must not be negative.
catalog-capacity-below-taken = The capacity cannot be lower than the { $taken } seats already taken.
