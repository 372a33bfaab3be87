from django.urls import path

from ui import views

urlpatterns = [
    path("", views.status, name="status"),
    path("health", views.health, name="health"),
]
