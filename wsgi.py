"""WSGI entry point: `gunicorn wsgi:app`. Reads APP_ENV (development by default).

With the thread back end the web process runs the jobs, so it also runs the sweep (a daemon
thread: at once, then every SWEEP_INTERVAL seconds), which marks rows whose job died with an
earlier process as failed, and starts the fork server that its large jobs' child processes
start from (`jobs.warm_children`), so the first of them does not wait for the imports. With RQ,
the worker and `flask sweep` do it; nothing here touches Redis, so the web starts and serves
while Redis is down. Every page's template is compiled in the background at once, so no first
visit waits for it. Do not use gunicorn's --preload: the threads would stay in the master
process.
"""

from app import create_app
from app.services import jobs
from app.services.jobs import sweep
from app.web.templating import precompile_in_background

app = create_app()
precompile_in_background(app)

if app.config["JOB_BACKEND"] == "thread":
    sweep.start_in_background(app)
    jobs.warm_children(app)
