from django.apps import AppConfig


class TrendingConfig(AppConfig):
    name = "secretome.db.trending"
    label = "trending"
    default_auto_field = "django.db.models.BigAutoField"
