"""URLs of the Django conformance app with async views."""

from __future__ import annotations

from .django_urls import async_urlpatterns

urlpatterns = async_urlpatterns
