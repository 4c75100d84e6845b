## El conjunto de datos de nombres. Variables: { $field } nombra un argumento.

names-at-least-one = { $field } debe ser al menos 1.
names-index-out-of-range = { $field } debe estar entre 0 y { $max }.
names-filter-too-long = { $field } puede tener como máximo { $max } caracteres.

## La orden import-names

names-import-cannot-open = No se puede abrir { $path }: { $reason }
names-import-bad-header = La primera línea debe ser el encabezado «{ $expected }», no «{ $found }». No se importó nada.
names-import-bad-column-count = se esperaban { $expected } columnas y hay { $found }.
names-import-bad-encoding = la columna { $column } no es UTF-8 válido.
names-import-bad-number = la columna { $column } debe ser un número entero de 0 o más, no «{ $value }».
names-import-bad-gender = el sexo debe ser FEMALE o MALE, no «{ $value }».
names-import-bad-ethnicity = la etnia «{ $value }» no es uno de los grupos del conjunto de datos.
names-import-empty-name = el nombre está vacío.
names-import-bad-row = Línea { $line } omitida: { $problem }
names-import-progress = { $percent } % leído, { $rows } filas.
names-import-rows = { $rows } filas
names-import-summary = { $read } filas leídas: { $imported } importadas, { $present } ya presentes, { $skipped } omitidas.
