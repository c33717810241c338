from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "secretome.db.quality"
    label = "quality"
    default_auto_field = "django.db.models.BigAutoField"
