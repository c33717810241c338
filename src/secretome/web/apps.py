from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "secretome.web"
    label = "web"
