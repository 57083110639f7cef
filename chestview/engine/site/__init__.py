"""Site profiles: a model's calibration, operating points and gate threshold refitted on one
hospital's labelled films, kept in the user data folder beside (never inside) the model entry."""

from chestview.engine.site.profile import SiteProfile, list_profiles, load_profile, save_profile, with_site

__all__ = ["SiteProfile", "list_profiles", "load_profile", "save_profile", "with_site"]
