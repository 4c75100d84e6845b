## Le jeu de données des prénoms. Variables : { $field } nomme un argument.

names-at-least-one = { $field } doit valoir au moins 1.
names-index-out-of-range = { $field } doit être compris entre 0 et { $max }.
names-filter-too-long = { $field } ne doit pas dépasser { $max } caractères.

## La commande import-names

names-import-cannot-open = Impossible d’ouvrir { $path } : { $reason }
names-import-bad-header = La première ligne doit être l’en-tête « { $expected } », et non « { $found } ». Rien n’a été importé.
names-import-bad-column-count = { $expected } colonnes attendues, { $found } trouvées.
names-import-bad-encoding = la colonne { $column } n’est pas en UTF-8 valide.
names-import-bad-number = la colonne { $column } doit être un nombre entier positif ou nul, et non « { $value } ».
names-import-bad-gender = le sexe doit être FEMALE ou MALE, et non « { $value } ».
names-import-bad-ethnicity = l’origine « { $value } » ne fait pas partie des groupes du jeu de données.
names-import-empty-name = le prénom est vide.
names-import-bad-row = Ligne { $line } ignorée : { $problem }
names-import-progress = { $percent } % lu, { $rows } lignes.
names-import-rows = { $rows } lignes
names-import-summary = { $read } lignes lues : { $imported } importées, { $present } déjà présentes, { $skipped } ignorées.
