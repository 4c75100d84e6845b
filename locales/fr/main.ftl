## Erreurs montrées aux clients de l'API. Variables : { $field } nomme un argument.

error-invalid-json = Le corps de la requête n'est pas du JSON valide : { $detail }
error-unsupported-media-type = Envoyez la requête GraphQL en application/json.
error-csrf = Cette requête a été bloquée pour empêcher une falsification de requête intersite. Envoyez-la avec Content-Type: application/json, ou ajoutez l'en-tête apollo-require-preflight: true.
error-body-too-large = Le corps de la requête dépasse la limite de { $limit } octets.
error-body-timeout = Le corps de la requête n’est pas arrivé à temps.
error-request-timeout = La requête a pris trop de temps et a été interrompue.
error-websocket-protocol = Ouvrez le WebSocket avec le sous-protocole graphql-transport-ws ou graphql-ws.
error-websocket-upgrade = Le WebSocket n'a pas pu être établi : { $detail }
error-missing-query = La requête ne contient pas de requête GraphQL.
error-batch-too-large = Un lot peut contenir au plus { $limit } opérations.
error-mutation-over-get = Les mutations et les abonnements ne peuvent être envoyés qu'en POST.
error-method-not-allowed = /graphql accepte GET et POST, pas { $method }.
error-not-acceptable = Ce serveur répond en application/graphql-response+json ou en application/json.
error-parse-failed = La requête GraphQL n'a pas pu être analysée.
error-validation-failed = La requête GraphQL n'est pas valide pour ce schéma.
error-query-too-complex = La requête est trop complexe. Demandez moins de champs, ou des champs moins imbriqués.
error-query-too-deep = La requête est trop profondément imbriquée.
error-introspection-disabled = L'introspection est désactivée sur ce serveur. Téléchargez plutôt le schéma depuis /schema.graphql.
error-too-many-aliases = La requête utilise plus de { $limit } alias.
error-alias-too-long = Un alias de la requête dépasse { $limit } octets.
error-document-too-large = Le texte de la requête dépasse la limite de { $limit } octets.
error-too-many-tokens = La requête dépasse la limite de { $limit } jetons.
error-too-many-fields = La requête sélectionne plus de { $limit } champs une fois ses fragments développés.
error-too-many-typenames = Une sélection de la requête demande __typename plus de { $limit } fois.
error-too-many-directives = Un champ de la requête porte plus de { $limit } directives.
error-too-many-arguments = Un champ de la requête a plus de { $limit } arguments.
error-fragment-cycle = Le fragment { $fragment } s'inclut lui-même, directement ou par d'autres fragments.
error-more-errors = …et { $count } erreurs de plus.
error-query-timeout = La requête a pris trop de temps et a été interrompue.
error-invalid-argument = La valeur donnée pour { $field } n'est pas valide.
error-internal = Une erreur s'est produite de notre côté. Indiquez l'identifiant de la requête en la signalant.
error-forbidden = Vous n'avez pas le droit de faire ceci.
error-not-found = Aucun élément ne correspond à cet identifiant.
error-rate-limited = Trop de tentatives. Réessayez dans { $seconds } secondes.
error-page-size-too-large = { $field } ne peut pas dépasser { $max }.
error-page-size-negative = { $field } ne doit pas être négatif.
error-first-and-last = Utilisez first ou last, pas les deux.
error-invalid-cursor = Le curseur donné pour { $field } n'est pas valide pour cette liste.
error-invalid-id = L'identifiant donné pour { $field } n'est pas valide.
error-wrong-id-type = L'identifiant donné pour { $field } ne désigne pas un objet { $expected }.
error-control-characters = { $field } ne doit pas contenir de caractères de contrôle.

## Documents persistés (requêtes persistées automatiques, documentId, documents de confiance).
# Un jeton du protocole, pas une phrase : les clients Apollo comparent ce texte exact pour envoyer la requête. Ne pas traduire.
error-persisted-query-not-found = PersistedQueryNotFound
error-persisted-query-version = Version de requête persistée non prise en charge : extensions.persistedQuery doit avoir la version 1.
error-persisted-query-hash = extensions.persistedQuery.sha256Hash doit être le SHA-256 de la requête en 64 chiffres hexadécimaux.
error-persisted-query-mismatch = La requête ne correspond pas à son empreinte : extensions.persistedQuery.sha256Hash doit être le SHA-256 du texte de la requête.
error-document-id-invalid = documentId doit être sha256: suivi du SHA-256 du document en 64 chiffres hexadécimaux.
error-document-id-with-query = Une requête avec un documentId n'envoie ni query ni extension persistedQuery.
error-document-id-not-listed = Aucun document de confiance n'a cette empreinte.
error-document-not-trusted = Ce serveur n'exécute que ses documents de confiance, et cette requête n'en fait pas partie.

## Authentification
auth-required = Vous devez être connecté pour faire ceci.
auth-token-invalid = Le jeton d'accès n'est pas valide.
auth-token-expired = Le jeton d'accès a expiré. Renouvelez-le et réessayez.
auth-invalid-credentials = L'adresse e-mail ou le mot de passe est incorrect.
auth-refresh-token-invalid = Le jeton de renouvellement n'est pas valide ou a expiré.
auth-refresh-token-reused = Ce jeton de renouvellement a déjà été utilisé. Toutes les sessions qui en sont issues ont été fermées.
auth-user-gone = Le compte associé à ce jeton n'existe plus.

## Comptes
account-email-invalid = Saisissez une adresse e-mail valide.
account-email-taken = Un compte existe déjà avec cette adresse e-mail.
account-password-too-short = Le mot de passe doit contenir au moins { $min } caractères.
account-password-too-long = Le mot de passe doit contenir au plus { $max } caractères.
account-name-empty = Le nom ne doit pas être vide.
account-name-too-long = Le nom doit contenir au plus { $max } caractères.
account-locale-unsupported = La langue { $value } n'est pas prise en charge.
account-timezone-unknown = { $value } n'est pas un fuseau horaire IANA connu.

## Accueil
welcome-title = Bienvenue sur alx-backend
welcome-greeting = Bonjour le monde !
welcome-logged-in-as = Vous êtes connecté en tant que { $name }.
welcome-not-logged-in = Vous n'êtes pas connecté.

## Catalogue
price-usd = { $amount } $US
catalog-product-name-empty = Le nom du produit ne doit pas être vide.
catalog-price-negative = Le prix ne doit pas être négatif.
catalog-stock-negative = Le stock ne doit pas être négatif.
catalog-stock-below-reserved = Le stock ne peut pas être inférieur aux { $reserved } unités déjà réservées.
catalog-quantity-not-positive = La quantité doit être d'au moins 1.
catalog-out-of-stock = Il ne reste que { $available } en stock ; { $requested } demandés.
catalog-product-has-reservations = Ce produit a des réservations ; annulez-les avant de le supprimer.
catalog-event-name-empty = Le nom de l'événement ne doit pas être vide.
catalog-capacity-negative = La capacité ne doit pas être négative.
catalog-capacity-below-taken = La capacité ne peut pas être inférieure aux { $taken } places déjà prises.
