from django.apps import AppConfig


class GenealogyConfig(AppConfig):
    name = "secretome.db.genealogy"
    label = "genealogy"
    default_auto_field = "django.db.models.BigAutoField"
