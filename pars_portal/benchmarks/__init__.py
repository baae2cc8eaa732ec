"""The benchmark and load-test commands (`manage.py bench_*`) and their shared harness.

Installed for development and tests (pars_portal.settings); the production profile leaves
it out, so none of this ships in a running portal."""
