from django.apps import AppConfig


class BrandsConfig(AppConfig):
    name = "brands"
    verbose_name = "Brands"
    default_auto_field = "django.db.models.BigAutoField"
