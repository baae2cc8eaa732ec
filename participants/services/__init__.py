"""Services: the writes that span models, one module per area (records, roster, uploads,
follow-ups; re-verification is `participants.reverification`, below the pipeline, which
schedules it). Views, the API, the admin and commands call them; import the module of the
area (`from participants.services import uploads`)."""
