"""URL map of the web app and the JSON API."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, path

from secretome.web import genealogy, views
from secretome.web.api import api


def _api_urls() -> tuple[list[Any], str, str]:
    """The API's URL patterns, exempt from the login redirect: the API answers 401 itself."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback.login_required = False  # type: ignore[attr-defined]
    return patterns, app_name, namespace


urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="secretome/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
    path("genealogy/", genealogy.overview, name="genealogy_overview"),
    path("genealogy/donors/<str:din>/", genealogy.donor_detail, name="genealogy_donor"),
    path("genealogy/record/<str:kind>/", genealogy.record, name="genealogy_record"),
    path("lots/<str:number>/", genealogy.lot_detail, name="genealogy_lot"),
    path("admin/", admin.site.urls),
    path("api/", _api_urls()),
]
