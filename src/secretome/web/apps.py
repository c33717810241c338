from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "secretome.web"
    label = "web"

    def ready(self) -> None:
        # Every entry point (web, API, command line) loads this app, so every failed password is audited.
        from secretome.services.accounts import connect_receivers

        connect_receivers()
