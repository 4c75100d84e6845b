# Trabajos, notificaciones y asientos.
job-priority-out-of-range = La prioridad debe estar entre -{ $limit } y { $limit }.
job-run-at-too-far = Un trabajo se puede programar como mucho con un año de antelación.
job-cannot-cancel = Este trabajo está { $state } y ya no se puede cancelar.
job-cannot-retry = Solo se pueden reintentar trabajos fallidos o cancelados; este está { $state }.
job-failed-internal = El trabajo falló por un error interno; se reintentará.
job-timed-out = El trabajo tardó más de { $seconds } segundos.
job-worker-lost = El proceso que ejecutaba este trabajo se detuvo antes de terminarlo.
job-kind-unknown = Ningún proceso aquí sabe ejecutar trabajos { $kind }.
job-payload-invalid = No se puede leer el contenido del trabajo.
notification-phone-invalid = Un número de teléfono tiene de 7 a 15 dígitos, opcionalmente tras un +.
notification-message-length = Un mensaje tiene de 1 a { $max } caracteres.
notification-message-control = Un mensaje no puede contener caracteres de control.
notification-too-many = Se pueden enviar como máximo { $max } notificaciones a la vez.
notification-phone-blocked = El número de teléfono { $number } está bloqueado
notification-send-failed = No se pudo entregar la notificación; se reintentará.
seats-reservations-blocked = Las reservas están bloqueadas para este evento.
seats-none-left = No hay suficientes asientos disponibles
