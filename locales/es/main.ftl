## Errores que ven los clientes de la API. Variables: { $field } nombra un argumento.

error-invalid-json = El cuerpo de la solicitud no es JSON válido: { $detail }
error-unsupported-media-type = Envíe la solicitud GraphQL como application/json.
error-csrf = Esta solicitud se bloqueó para evitar una falsificación de solicitud entre sitios. Envíela con Content-Type: application/json o añada la cabecera apollo-require-preflight: true.
error-body-too-large = El cuerpo de la solicitud supera el límite de { $limit } bytes.
error-body-timeout = El cuerpo de la solicitud no llegó a tiempo.
error-request-timeout = La solicitud tardó demasiado y se detuvo.
error-websocket-protocol = Abra el WebSocket con el subprotocolo graphql-transport-ws o graphql-ws.
error-websocket-upgrade = No se pudo establecer el WebSocket: { $detail }
error-missing-query = La solicitud no contiene ninguna consulta GraphQL.
error-batch-too-large = Un lote puede contener como máximo { $limit } operaciones.
error-mutation-over-get = Las mutaciones y suscripciones solo pueden enviarse con POST.
error-method-not-allowed = /graphql acepta GET y POST, no { $method }.
error-not-acceptable = Este servidor responde con application/graphql-response+json o application/json.
error-parse-failed = No se pudo analizar la consulta GraphQL.
error-validation-failed = La consulta GraphQL no es válida para el esquema.
error-query-too-complex = La consulta es demasiado compleja. Pida menos campos o campos menos anidados.
error-query-too-deep = La consulta está anidada demasiado profundamente.
error-introspection-disabled = La introspección está desactivada en este servidor. Descargue el esquema desde /schema.graphql.
error-too-many-aliases = La consulta usa más de { $limit } alias.
error-alias-too-long = Un alias de la consulta supera los { $limit } bytes.
error-document-too-large = El texto de la consulta supera el límite de { $limit } bytes.
error-too-many-tokens = La consulta supera el límite de { $limit } tokens.
error-too-many-fields = La consulta selecciona más de { $limit } campos una vez expandidos sus fragmentos.
error-too-many-typenames = Una selección de la consulta pide __typename más de { $limit } veces.
error-too-many-directives = Un campo de la consulta lleva más de { $limit } directivas.
error-too-many-arguments = Un campo de la consulta tiene más de { $limit } argumentos.
error-fragment-cycle = El fragmento { $fragment } se incluye a sí mismo, directamente o a través de otros fragmentos.
error-more-errors = …y { $count } errores más.
error-query-timeout = La consulta tardó demasiado y se detuvo.
error-invalid-argument = El valor dado para { $field } no es válido.
error-internal = Algo falló de nuestro lado. Indique el identificador de la solicitud al informar del problema.
error-forbidden = No tiene permiso para hacer esto.
error-not-found = No se encontró nada con ese identificador.
error-rate-limited = Demasiados intentos. Vuelva a intentarlo en { $seconds } segundos.
error-page-size-too-large = { $field } no puede ser mayor que { $max }.
error-page-size-negative = { $field } no debe ser negativo.
error-first-and-last = Use first o last, no ambos.
error-invalid-cursor = El cursor dado para { $field } no es válido para esta lista.
error-invalid-id = El identificador dado para { $field } no es válido.
error-wrong-id-type = El identificador dado para { $field } no corresponde a un { $expected }.
error-control-characters = { $field } no debe contener caracteres de control.

## Documentos persistidos (consultas persistidas automáticas, documentId, documentos de confianza).
# Un símbolo del protocolo, no una frase: los clientes de Apollo comparan este texto exacto para enviar la consulta. No traducir.
error-persisted-query-not-found = PersistedQueryNotFound
error-persisted-query-version = Versión de consulta persistida no admitida: extensions.persistedQuery debe tener la versión 1.
error-persisted-query-hash = extensions.persistedQuery.sha256Hash debe ser el SHA-256 de la consulta en 64 dígitos hexadecimales.
error-persisted-query-mismatch = La consulta no coincide con su hash: extensions.persistedQuery.sha256Hash debe ser el SHA-256 del texto de la consulta.
error-document-id-invalid = documentId debe ser sha256: seguido del SHA-256 del documento en 64 dígitos hexadecimales.
error-document-id-with-query = Una solicitud con documentId no envía ni query ni la extensión persistedQuery.
error-document-id-not-listed = Ningún documento de confianza tiene este hash.
error-document-not-trusted = Este servidor solo ejecuta sus documentos de confianza, y esta consulta no es uno de ellos.

## Autenticación
auth-required = Debe iniciar sesión para hacer esto.
auth-token-invalid = El token de acceso no es válido.
auth-token-expired = El token de acceso ha caducado. Renuévelo e inténtelo de nuevo.
auth-invalid-credentials = El correo electrónico o la contraseña son incorrectos.
auth-refresh-token-invalid = El token de renovación no es válido o ha caducado.
auth-refresh-token-reused = Este token de renovación ya se usó. Se cerraron todas las sesiones iniciadas con él.
auth-user-gone = La cuenta de este token ya no existe.

## Cuentas
account-email-invalid = Introduzca una dirección de correo electrónico válida.
account-email-taken = Ya existe una cuenta con este correo electrónico.
account-password-too-short = La contraseña debe tener al menos { $min } caracteres.
account-password-too-long = La contraseña debe tener como máximo { $max } caracteres.
account-name-empty = El nombre no debe estar vacío.
account-name-too-long = El nombre debe tener como máximo { $max } caracteres.
account-locale-unsupported = El idioma { $value } no está disponible.
account-timezone-unknown = { $value } no es una zona horaria IANA conocida.

## Bienvenida
welcome-title = Bienvenido a alx-backend
welcome-greeting = ¡Hola, mundo!
welcome-logged-in-as = Ha iniciado sesión como { $name }.
welcome-not-logged-in = No ha iniciado sesión.

## Catálogo
price-usd = { $amount } US$
catalog-product-name-empty = El nombre del producto no debe estar vacío.
catalog-price-negative = El precio no debe ser negativo.
catalog-stock-negative = El stock no debe ser negativo.
catalog-stock-below-reserved = El stock no puede ser menor que las { $reserved } unidades ya reservadas.
catalog-quantity-not-positive = La cantidad debe ser al menos 1.
catalog-out-of-stock = Solo quedan { $available } en stock; se pidieron { $requested }.
catalog-product-has-reservations = Este producto tiene reservas; cancélelas antes de eliminarlo.
catalog-event-name-empty = El nombre del evento no debe estar vacío.
catalog-capacity-negative = La capacidad no debe ser negativa.
catalog-capacity-below-taken = La capacidad no puede ser menor que las { $taken } plazas ya ocupadas.
