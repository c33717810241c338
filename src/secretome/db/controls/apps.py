from django.apps import AppConfig


class ControlsConfig(AppConfig):
    name = "secretome.db.controls"
    label = "controls"
    default_auto_field = "django.db.models.BigAutoField"
