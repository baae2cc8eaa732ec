from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    name = "pars_portal.benchmarks"
    label = "benchmarks"
    verbose_name = "Benchmarks"
