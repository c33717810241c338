from django.apps import AppConfig


class AnalysesConfig(AppConfig):
    name = "secretome.db.analyses"
    label = "analyses"
    default_auto_field = "django.db.models.BigAutoField"
