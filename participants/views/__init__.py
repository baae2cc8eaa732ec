"""The participants' pages, one module per area: activities (an activity's page and its
records), records, uploads, keys (the web services page), review (the reviewers' queue)."""
