"""The platform team's side: lifecycle configs, images, audit, domain export/import, policies."""
