"""Services: the writes that span models, one module per area (records, roster,
uploads, re-verification, follow-ups). Views, the API, the admin and commands call them;
import the module of the area (`from participants.services import uploads`)."""
