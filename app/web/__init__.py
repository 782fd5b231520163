"""The web layer: blueprints with thin routes, shared views, access rules, error pages and
template helpers. It calls the services; nothing below it imports it."""
