"""Views both role blueprints register: model pages and prediction pages, and their form."""
