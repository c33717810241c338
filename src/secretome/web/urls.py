"""URL map of the web app and the JSON API."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, path

from secretome.web import accounts, analyses, controls, genealogy, release, trending, views
from secretome.web import imports as instrument_imports
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
    path("account/password/", accounts.password_change, name="password_change"),
    path("accounts/", accounts.account_list, name="accounts"),
    path("accounts/<str:username>/unlock/", accounts.account_unlock, name="account_unlock"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
    path("audit/export.csv", views.audit_export_csv, name="audit_export_csv"),
    path("audit/export.pdf", views.audit_export_pdf, name="audit_export_pdf"),
    path("genealogy/", genealogy.overview, name="genealogy_overview"),
    path("genealogy/donors/<str:din>/", genealogy.donor_detail, name="genealogy_donor"),
    path("genealogy/record/<str:kind>/", genealogy.record, name="genealogy_record"),
    path("lots/<str:number>/", genealogy.lot_detail, name="genealogy_lot"),
    path("release/specifications/", release.spec_list, name="release_specs"),
    path("release/specifications/new/", release.spec_new, name="release_spec_new"),
    path("release/specifications/<str:product>/<int:version>/", release.spec_detail, name="release_spec"),
    path(
        "release/specifications/<str:product>/<int:version>/attribute/",
        release.spec_attribute,
        name="release_spec_attribute",
    ),
    path(
        "release/specifications/<str:product>/<int:version>/approve/",
        release.spec_approve,
        name="release_spec_approve",
    ),
    path("release/lots/", release.lot_list, name="release_lots"),
    path("release/lots/<str:number>/", release.lot_qc, name="release_lot"),
    path("release/lots/<str:number>/result/", release.lot_result, name="release_lot_result"),
    path("release/lots/<str:number>/step/", release.lot_step, name="release_lot_step"),
    path("release/lots/<str:number>/sign/", release.lot_sign, name="release_lot_sign"),
    path("release/lots/<str:number>/reopen/", release.lot_reopen, name="release_lot_reopen"),
    path(
        "release/lots/<str:number>/investigation/",
        release.lot_close_investigation,
        name="release_lot_investigation",
    ),
    path("release/lots/<str:number>/certificate/", release.certificate_page, name="release_certificate"),
    path(
        "release/lots/<str:number>/certificate/issue/",
        release.certificate_issue,
        name="release_certificate_issue",
    ),
    path(
        "release/lots/<str:number>/certificate.pdf",
        release.certificate_download,
        name="release_certificate_pdf",
    ),
    path("analyses/", analyses.run_list, name="analysis_runs"),
    path("analyses/methods/", analyses.method_list, name="analysis_methods"),
    path("analyses/<str:number>/", analyses.run_detail, name="analysis_run"),
    path("analyses/<str:number>/exclude/", analyses.run_exclude, name="analysis_run_exclude"),
    path("analyses/<str:number>/accept/", analyses.run_accept, name="analysis_run_accept"),
    path("analyses/<str:number>/return/", analyses.run_return, name="analysis_run_return"),
    path("imports/", instrument_imports.import_list, name="import_list"),
    path("imports/preview/", instrument_imports.import_preview, name="import_preview"),
    path("imports/new/", instrument_imports.import_create, name="import_create"),
    path("imports/<int:pk>/", instrument_imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/raw/", instrument_imports.import_raw, name="import_raw"),
    path("trending/", trending.overview, name="trend_overview"),
    path("trending/lots/<str:number>/signals/", trending.lot_signals, name="trend_lot_signals"),
    path("trending/controls/", controls.index, name="control_index"),
    path("trending/controls/<str:method>/", controls.method_page, name="control_method"),
    path("trending/controls/<str:method>/<str:control>/", controls.chart_page, name="control_chart"),
    path(
        "trending/controls/<str:method>/<str:control>/limits/",
        controls.approve_limits,
        name="control_limits",
    ),
    path("trending/<str:product>/fingerprint/", trending.fingerprint_page, name="trend_fingerprint"),
    path("trending/<str:product>/<str:code>/", trending.attribute_page, name="trend_attribute"),
    path("trending/<str:product>/<str:code>/limits/", trending.approve_limits, name="trend_limits"),
    path("trending/<str:product>/<str:code>/factor/", trending.factor_page, name="trend_factor"),
    path("admin/", admin.site.urls),
    path("api/", _api_urls()),
]
