# Tâches, notifications et places.
job-priority-out-of-range = La priorité doit être comprise entre -{ $limit } et { $limit }.
job-run-at-too-far = Une tâche peut être programmée au plus un an à l’avance.
job-cannot-cancel = Cette tâche est { $state } et ne peut plus être annulée.
job-cannot-retry = Seules les tâches échouées ou annulées peuvent être relancées ; celle-ci est { $state }.
job-failed-internal = La tâche a échoué à cause d’une erreur interne ; elle sera relancée.
job-timed-out = La tâche a duré plus de { $seconds } secondes.
job-worker-lost = Le processus qui exécutait cette tâche s’est arrêté avant de la terminer.
job-kind-unknown = Aucun processus ici ne sait exécuter les tâches { $kind }.
job-payload-invalid = Le contenu de la tâche est illisible.
notification-phone-invalid = Un numéro de téléphone compte 7 à 15 chiffres, éventuellement précédés d’un +.
notification-message-length = Un message compte de 1 à { $max } caractères.
notification-message-control = Un message ne peut pas contenir de caractères de contrôle.
notification-too-many = Au plus { $max } notifications peuvent être envoyées à la fois.
notification-phone-blocked = Le numéro de téléphone { $number } est bloqué
notification-send-failed = La notification n’a pas pu être remise ; elle sera relancée.
seats-reservations-blocked = Les réservations sont fermées pour cet événement.
seats-none-left = Pas assez de places disponibles
