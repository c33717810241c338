from django.apps import AppConfig


class RecordLockConfig(AppConfig):
    name = "secretome.db.recordlock"
    label = "recordlock"
    default_auto_field = "django.db.models.BigAutoField"
