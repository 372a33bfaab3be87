from django.apps import AppConfig


class CliConfig(AppConfig):
    name = "orchestrator.cli"
    label = "choreo_cli"
