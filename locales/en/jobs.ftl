# Jobs, notifications and seats.
job-priority-out-of-range = The priority must be between -{ $limit } and { $limit }.
job-run-at-too-far = A job can be scheduled at most a year ahead.
job-cannot-cancel = This job is { $state } and can no longer be cancelled.
job-cannot-retry = Only failed or cancelled jobs can be retried; this one is { $state }.
job-failed-internal = The job failed because of an internal error; it will be retried.
job-timed-out = The job took longer than { $seconds } seconds.
job-worker-lost = The worker running this job stopped before finishing it.
job-kind-unknown = No worker here knows how to run { $kind } jobs.
job-payload-invalid = The job's payload cannot be read.
notification-phone-invalid = A phone number is 7 to 15 digits, optionally after a +.
notification-message-length = A message is 1 to { $max } characters long.
notification-message-control = A message cannot contain control characters.
notification-too-many = At most { $max } notifications can be sent at once.
notification-phone-blocked = Phone number { $number } is blocked
notification-send-failed = The notification could not be delivered; it will be retried.
seats-reservations-blocked = Reservations are blocked for this event.
seats-none-left = Not enough seats available
